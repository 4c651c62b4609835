from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.idempotency.guards import idempotent
from app.inspections.schemas import TaskRead
from app.risk import service
from app.risk.schemas import (
    VideoEventCreate,
    WarningInspection,
    WarningPage,
    WarningQuery,
    WarningRead,
    WarningResolve,
)
from app.users.models import Role

blp = Blueprint("risk", __name__, url_prefix="/api/v1/risk", description="The risk-warning queue and video events.")

QUEUE_ROLES = (Role.CUSTOMS_OFFICER, Role.ADMIN)


@blp.route("/warnings")
class Warnings(MethodView):
    @require_role(*QUEUE_ROLES)
    @blp.arguments(WarningQuery, location="query")
    @blp.response(200, WarningPage)
    def get(self, query):
        """The risk-warning queue, newest first."""
        with db.transaction() as session:
            return service.list_warnings(session, **query)


@blp.route("/warnings/<int:warning_id>")
class WarningById(MethodView):
    @require_role(*QUEUE_ROLES)
    @blp.response(200, WarningRead)
    def get(self, warning_id):
        """Read a risk warning."""
        with db.transaction() as session:
            return service.get_warning(session, warning_id)


@blp.route("/warnings/<int:warning_id>/take")
class WarningTake(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.response(200, WarningRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, warning_id):
        """Take a warning to work on it."""
        with db.transaction() as session:
            return service.take(session, warning_id, officer=current_user(), actor=current_actor())


@blp.route("/warnings/<int:warning_id>/resolve")
class WarningResolution(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(WarningResolve)
    @blp.response(200, WarningRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, warning_id):
        """Resolve a warning with notes."""
        with db.transaction() as session:
            return service.resolve(session, warning_id, officer=current_user(), actor=current_actor(), **payload)


@blp.route("/warnings/<int:warning_id>/inspection")
class WarningInspectionOrder(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(WarningInspection)
    @blp.response(201, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, warning_id):
        """Turn a warning into an inspection task on its declaration."""
        with db.transaction() as session:
            return service.order_inspection(
                session, warning_id, officer=current_user(), actor=current_actor(), **payload
            )


@blp.route("/video-events")
class VideoEvents(MethodView):
    @require_role(Role.VIDEO_ANALYTICS)
    @idempotent
    @blp.arguments(VideoEventCreate)
    @blp.response(201, WarningRead)
    def post(self, payload):
        """A camera system reports an event; it becomes (or repeats) a risk warning."""
        with db.transaction() as session:
            return service.report_video_event(session, actor=current_actor(), **payload)
