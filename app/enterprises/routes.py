from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.enterprises import service
from app.enterprises.schemas import (
    EnterpriseCreate,
    EnterprisePage,
    EnterpriseQuery,
    EnterpriseRead,
    EnterpriseUpdate,
)
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "enterprises", __name__, url_prefix="/api/v1/enterprises", description="Enterprises as their users see them."
)
admin_blp = Blueprint(
    "admin_enterprises", __name__, url_prefix="/api/v1/admin/enterprises", description="Enterprise registry (admins)."
)


@blp.route("/<int32:enterprise_id>")
class EnterpriseById(MethodView):
    @require_role()
    @blp.response(200, EnterpriseRead)
    def get(self, enterprise_id):
        """Read an enterprise: your own, or any for officers and admins."""
        with db.transaction() as session:
            return service.get_enterprise_for(session, enterprise_id, viewer=current_user())


@admin_blp.route("")
class AdminEnterprises(MethodView):
    @require_role(Role.ADMIN)
    @admin_blp.arguments(EnterpriseQuery, location="query")
    @admin_blp.response(200, EnterprisePage)
    def get(self, query):
        """List enterprises, newest first, filtered by kind, text or state."""
        with db.transaction() as session:
            return service.list_enterprises(session, **query)

    @require_role(Role.ADMIN)
    @idempotent
    @admin_blp.arguments(EnterpriseCreate)
    @admin_blp.response(201, EnterpriseRead)
    @admin_blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Register an enterprise."""
        with db.transaction() as session:
            return service.register_enterprise(session, actor=current_actor(), **payload)


@admin_blp.route("/<int32:enterprise_id>")
class AdminEnterpriseById(MethodView):
    @require_role(Role.ADMIN)
    @admin_blp.response(200, EnterpriseRead)
    def get(self, enterprise_id):
        """Read an enterprise."""
        with db.transaction() as session:
            return service.get_enterprise(session, enterprise_id)

    @require_role(Role.ADMIN)
    @idempotent
    @admin_blp.arguments(EnterpriseUpdate)
    @admin_blp.response(200, EnterpriseRead)
    @admin_blp.alt_response(409, response="CONFLICT")
    def patch(self, payload, enterprise_id):
        """Change an enterprise's details, or deactivate it."""
        with db.transaction() as session:
            return service.update_enterprise(session, enterprise_id, actor=current_actor(), **payload)
