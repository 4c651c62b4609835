from app.api import Blueprint

blp = Blueprint("inspections", __name__, url_prefix="/api/v1", description="Inspections and 7×24 appointments.")
