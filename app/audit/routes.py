from flask.views import MethodView

from app import db
from app.audit import service
from app.audit.schemas import AuditEventPage, AuditEventQuery, AuditVerificationRead, AuditVerifyQuery
from app.auth.guards import require_role
from app.common.blueprint import Blueprint
from app.users.models import Role

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin/audit-events", description="Audit trail (admins).")
verify_blp = Blueprint(
    "audit_verify", __name__, url_prefix="/api/v1/admin/audit", description="Audit chain verification (admins)."
)


@blp.route("")
class AuditEvents(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(AuditEventQuery, location="query")
    @blp.response(200, AuditEventPage)
    def get(self, query):
        """List audit events, newest first."""
        with db.transaction() as session:
            return service.list_events(session, **query)


@verify_blp.route("/verify")
class AuditVerify(MethodView):
    @require_role(Role.ADMIN)
    @verify_blp.arguments(AuditVerifyQuery, location="query")
    @verify_blp.response(200, AuditVerificationRead)
    def get(self, query):
        """Recompute a page of the audit chain; page on with next_after_seq until it is null or a break is found."""
        with db.transaction() as session:
            return service.verify(session, **query)
