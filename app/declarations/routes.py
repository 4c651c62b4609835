from app.api import Blueprint

blp = Blueprint("declarations", __name__, url_prefix="/api/v1/declarations", description="Inventory lists.")
