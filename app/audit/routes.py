from flask.views import MethodView

from app import db
from app.api import Blueprint
from app.audit import service
from app.audit.schemas import AuditEventPage, AuditEventQuery
from app.auth.guards import require_role
from app.users.models import Role

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin/audit-events", description="Audit trail (admins).")


@blp.route("")
class AuditEvents(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(AuditEventQuery, location="query")
    @blp.response(200, AuditEventPage)
    def get(self, query):
        """List audit events, newest first."""
        with db.transaction() as session:
            return service.list_events(session, **query)
