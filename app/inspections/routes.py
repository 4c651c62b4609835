from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from flask import request
from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.idempotency.guards import idempotent
from app.inspections import booking, inspecting, photos, sites, tasks
from app.inspections.photo_download import photo_response
from app.inspections.schemas import (
    AppointmentSet,
    PhotoRead,
    PhotoUpload,
    QueueQuery,
    QueueRead,
    RecheckCreate,
    ResultCreate,
    SiteCreate,
    SitePage,
    SiteQuery,
    SiteRead,
    SiteUpdate,
    SlotQuery,
    SlotRead,
    SlotsCreate,
    TaskCreate,
    TaskPage,
    TaskQuery,
    TaskRead,
)
from app.users.models import Role

blp = Blueprint("inspections", __name__, url_prefix="/api/v1", description="Inspections and 7×24 appointments.")

BOOKERS = (Role.DECLARANT, Role.WAREHOUSE_OPERATOR)
SLOT_READERS = (Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN)
# Room for the multipart boundaries and headers around the photo itself.
MULTIPART_OVERHEAD = 64 * 1024
TOO_LARGE = HTTPStatus.REQUEST_ENTITY_TOO_LARGE.name
IMAGE = {"schema": {"type": "string", "format": "binary"}}


def photo_sized_body(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let this request's body reach the photo limit; the app-wide limit is sized for JSON."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = current_settings().photo_max_bytes + MULTIPART_OVERHEAD
        return view(*args, **kwargs)

    return wrapped


@blp.route("/inspection-sites")
class InspectionSites(MethodView):
    @require_role()
    @blp.arguments(SiteQuery, location="query")
    @blp.response(200, SitePage)
    def get(self, query):
        """List inspection sites, newest first."""
        with db.transaction() as session:
            return sites.list_sites(session, **query)

    @require_role(Role.ADMIN)
    @idempotent
    @blp.arguments(SiteCreate)
    @blp.response(201, SiteRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Register an inspection site."""
        with db.transaction() as session:
            return sites.create_site(session, actor=current_actor(), **payload)


@blp.route("/inspection-sites/<int32:site_id>")
class InspectionSiteById(MethodView):
    @require_role()
    @blp.response(200, SiteRead)
    def get(self, site_id):
        """Read an inspection site."""
        with db.transaction() as session:
            return sites.get_site(session, site_id)

    @require_role(Role.ADMIN)
    @idempotent
    @blp.arguments(SiteUpdate)
    @blp.response(200, SiteRead)
    def patch(self, payload, site_id):
        """Rename or move a site, or close it to new bookings."""
        with db.transaction() as session:
            return sites.update_site(session, site_id, actor=current_actor(), **payload)


@blp.route("/inspection-sites/<int32:site_id>/slots")
class InspectionSlots(MethodView):
    @require_role(*SLOT_READERS)
    @blp.arguments(SlotQuery, location="query")
    @blp.response(200, SlotRead(many=True))
    def get(self, query, site_id):
        """A site's slots in a time window (at most 7 days) with their remaining places."""
        with db.transaction() as session:
            return sites.list_slots(session, site_id, **query)

    @require_role(Role.ADMIN, Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(SlotsCreate)
    @blp.response(201, SlotRead(many=True))
    def post(self, payload, site_id):
        """Open back-to-back slots over a range (at most 1000); returns the new ones."""
        with db.transaction() as session:
            site = sites.get_site(session, site_id)
            return sites.open_slots(session, site, actor=current_actor(), **payload)


@blp.route("/inspection-sites/<int32:site_id>/queue")
class InspectionQueue(MethodView):
    @require_role(Role.CUSTOMS_OFFICER, Role.ADMIN)
    @blp.arguments(QueueQuery, location="query")
    @blp.response(200, QueueRead)
    def get(self, query, site_id):
        """The officer's queue: a site's tasks by appointment time within one day."""
        with db.transaction() as session:
            return tasks.officer_queue(session, site_id, **query)


@blp.route("/inspection-tasks")
class InspectionTasks(MethodView):
    @require_role()
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskPage)
    def get(self, query):
        """List the inspection tasks you may see, newest first."""
        with db.transaction() as session:
            return tasks.list_tasks(session, viewer=current_user(), **query)

    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(TaskCreate)
    @blp.response(201, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Order an inspection of a declaration's goods; returns its open task if it has one."""
        with db.transaction() as session:
            return tasks.order_inspection(session, officer=current_user(), **payload)


@blp.route("/inspection-tasks/<int:task_id>")
class InspectionTaskById(MethodView):
    @require_role()
    @blp.response(200, TaskRead)
    def get(self, task_id):
        """Read an inspection task."""
        with db.transaction() as session:
            return tasks.get_task_for(session, task_id, viewer=current_user())


@blp.route("/inspection-tasks/<int:task_id>/appointment")
class InspectionTaskAppointment(MethodView):
    @require_role(*BOOKERS)
    @idempotent
    @blp.arguments(AppointmentSet)
    @blp.response(200, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def put(self, payload, task_id):
        """Book a slot for the inspection, or move the booking to another slot."""
        with db.transaction() as session:
            return booking.book(session, task_id, booker=current_user(), **payload)


@blp.route("/inspection-tasks/<int:task_id>/goods-ready")
class InspectionTaskGoodsReady(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR)
    @idempotent
    @blp.response(200, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, task_id):
        """Confirm the goods are staged for the booked inspection."""
        with db.transaction() as session:
            return inspecting.mark_goods_ready(session, task_id, operator=current_user())


@blp.route("/inspection-tasks/<int:task_id>/start")
class InspectionTaskStart(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.response(200, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, task_id):
        """Start inspecting staged goods."""
        with db.transaction() as session:
            return inspecting.start(session, task_id, officer=current_user())


@blp.route("/inspection-tasks/<int:task_id>/recheck")
class InspectionTaskRecheck(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(RecheckCreate)
    @blp.response(200, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, task_id):
        """Send goods with a suspicious machine image to open-box re-inspection."""
        with db.transaction() as session:
            return inspecting.recheck(session, task_id, officer=current_user(), **payload)


@blp.route("/inspection-tasks/<int:task_id>/result")
class InspectionTaskResult(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(ResultCreate)
    @blp.response(200, TaskRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, task_id):
        """Record the result (normal or abnormal) and, for abnormal goods, the disposal."""
        with db.transaction() as session:
            return inspecting.record_result(session, task_id, officer=current_user(), **payload)


@blp.route("/inspection-tasks/<int:task_id>/photos")
class InspectionTaskPhotos(MethodView):
    @require_role()
    @blp.response(200, PhotoRead(many=True))
    def get(self, task_id):
        """List an inspection's photos."""
        with db.transaction() as session:
            return photos.list_photos(session, task_id, viewer=current_user())

    @require_role(Role.CUSTOMS_OFFICER)
    @photo_sized_body
    @idempotent
    @blp.arguments(PhotoUpload, location="files")
    @blp.response(201, PhotoRead)
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(413, response=TOO_LARGE)
    def post(self, payload, task_id):
        """Upload a JPEG or PNG photo of the inspection (multipart field `photo`)."""
        settings = current_settings()
        with db.transaction() as session:
            return photos.add_photo(
                session,
                task_id,
                officer=current_user(),
                stream=payload["photo"].stream,
                upload_dir=settings.upload_dir,
                max_bytes=settings.photo_max_bytes,
            )


@blp.route("/inspection-tasks/<int:task_id>/photos/<int:photo_id>")
class InspectionTaskPhotoById(MethodView):
    @require_role()
    @blp.doc(responses={"200": {"description": "The image", "content": {"image/jpeg": IMAGE, "image/png": IMAGE}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, task_id, photo_id):
        """Download an inspection photo."""
        with db.transaction() as session:
            photo = photos.get_photo_for(session, task_id, photo_id, viewer=current_user())
        return photo_response(photo)
