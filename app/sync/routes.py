from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.idempotency.guards import idempotent
from app.sync import service
from app.sync.actions import Caller
from app.sync.schemas import SyncCreate, SyncRead
from app.users.models import Role

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Offline-first sync of a handheld's actions.")


@blp.route("")
class Sync(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.ADMIN)
    @idempotent
    @blp.arguments(SyncCreate)
    @blp.response(200, SyncRead)
    def post(self, payload):
        """Apply a batch of actions done offline, each once and in order; answer per action."""
        caller = Caller(user=current_user(), actor=current_actor())
        with db.transaction() as session:
            results = service.apply_batch(
                session, payload["actions"], caller=caller, window=current_settings().sync_window
            )
        return {"results": results}
