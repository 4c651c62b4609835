from app.api import Blueprint

blp = Blueprint("customs", __name__, url_prefix="/api/v1/customs", description="Customs receipts.")
