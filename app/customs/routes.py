from flask import request
from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.customs import service
from app.customs.schemas import (
    MAX_RECEIPTS_PER_DOCUMENT,
    ReceiptBatchCreate,
    ReceiptBatchRead,
    ReceiptPage,
    ReceiptQuery,
    ReceiptRead,
    load_receipts,
)
from app.idempotency.guards import idempotent
from app.infra import metrics
from app.infra.retry import retries_conflicts
from app.users.models import Role

blp = Blueprint(
    "customs", __name__, url_prefix="/api/v1/customs", description="Customs receipts (CEB622 import, CEB604 export)."
)

_RECEIPTS_BODY = {
    "required": True,
    "description": (
        f"Up to {MAX_RECEIPTS_PER_DOCUMENT} receipts: JSON, or a CEB622Message (import lists) or CEB604Message "
        "(export lists) with InventoryReturn elements in namespace http://www.chinaport.gov.cn/ceb. DTDs and "
        "entities are refused."
    ),
    "content": {
        "application/json": {"schema": ReceiptBatchCreate},
        "application/xml": {"schema": {"type": "string", "description": "A CEB622 or CEB604 document."}},
    },
}


@blp.route("/receipts")
class Receipts(MethodView):
    @require_role(Role.CUSTOMS_GATEWAY)
    @retries_conflicts
    @idempotent
    @blp.doc(requestBody=_RECEIPTS_BODY)
    @blp.response(200, ReceiptBatchRead)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self):
        """Take customs receipts; each is stored once and applied by rank, never backwards."""
        receipts, format = load_receipts(request.get_data(cache=True), request.mimetype)
        with db.transaction() as session:
            results = service.ingest(session, receipts, gateway=current_user(), format=format)
            counts = service.outcome_counts(results)
        metrics.count_receipts(counts)  # once committed: a batch rolled back took nothing
        return {"results": results, "counts": counts}

    @require_role(Role.ADMIN)
    @blp.arguments(ReceiptQuery, location="query")
    @blp.response(200, ReceiptPage)
    def get(self, query):
        """Stored receipts, newest first; outcome=unknown_declaration&unresolved=true is the review queue."""
        with db.transaction() as session:
            return service.list_receipts(session, **query)


@blp.route("/receipts/<int:receipt_id>")
class ReceiptById(MethodView):
    @require_role(Role.ADMIN)
    @blp.response(200, ReceiptRead)
    def get(self, receipt_id):
        """Read a stored receipt with its raw body."""
        with db.transaction() as session:
            return service.get_receipt(session, receipt_id)


@blp.route("/receipts/<int:receipt_id>/retry")
class ReceiptRetry(MethodView):
    @require_role(Role.ADMIN)
    @idempotent
    @blp.response(200, ReceiptRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, receipt_id):
        """Match an unknown receipt again and apply it if its declaration is now known."""
        with db.transaction() as session:
            return service.retry_unknown(session, receipt_id, actor=current_actor())


@blp.route("/receipts/<int:receipt_id>/dismiss")
class ReceiptDismiss(MethodView):
    @require_role(Role.ADMIN)
    @idempotent
    @blp.response(200, ReceiptRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, receipt_id):
        """Mark an unknown receipt as reviewed without applying it."""
        with db.transaction() as session:
            return service.dismiss(session, receipt_id, actor=current_actor())
