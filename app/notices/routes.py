from app.api import Blueprint

blp = Blueprint("notices", __name__, url_prefix="/api/v1/notices", description="Your notices.")
