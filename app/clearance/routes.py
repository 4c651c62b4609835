"""The officer's in-app release: the one route whose work spans domains (see flows.py)."""

from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.clearance import flows
from app.common.blueprint import Blueprint
from app.declarations.schemas import DeclarationRead, ReleaseCreate
from app.idempotency.guards import idempotent
from app.infra.retry import retries_conflicts
from app.users.models import Role

blp = Blueprint(
    "clearance",
    __name__,
    url_prefix="/api/v1",
    description="Release: what customs' 800 receipt does, by an officer in the app.",
)


@blp.route("/declarations/<int:declaration_id>/release")
class DeclarationRelease(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @retries_conflicts
    @idempotent
    @blp.arguments(ReleaseCreate)
    @blp.response(200, DeclarationRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, declaration_id):
        """Release a declaration in the app, as customs' 800 receipt would."""
        with db.transaction() as session:
            return flows.release_by_officer(session, declaration_id, officer=current_user(), **payload)
