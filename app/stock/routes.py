from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.idempotency.guards import idempotent
from app.stock import service
from app.stock.schemas import MovementRead, ScanInCreate, StockPage, StockQuery
from app.users.models import Role

blp = Blueprint("stock", __name__, url_prefix="/api/v1/stock", description="Bonded-warehouse stock per product.")


@blp.route("")
class Stock(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN)
    @blp.arguments(StockQuery, location="query")
    @blp.response(200, StockPage)
    def get(self, query):
        """Stock levels per product (your warehouse's; every warehouse's for officers and admins)."""
        with db.transaction() as session:
            return service.list_levels(session, viewer=current_user(), **query)


@blp.route("/scan-ins")
class ScanIns(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR)
    @idempotent
    @blp.arguments(ScanInCreate)
    @blp.response(201, MovementRead(many=True))
    def post(self, payload):
        """Scan goods into your bonded warehouse; the seal must have been checked intact."""
        with db.transaction() as session:
            return service.scan_in(session, operator=current_user(), **payload)
