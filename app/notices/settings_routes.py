"""Routes for the signed-in user's notification settings: quiet hours, kinds pushed, an officer's office."""

from __future__ import annotations

from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.idempotency.guards import idempotent
from app.notices import settings as service
from app.notices.schemas import NotificationSettingsRead, NotificationSettingsWrite
from app.users.models import Role

blp = Blueprint(
    "notification_settings",
    __name__,
    url_prefix="/api/v1/me/notification-settings",
    description="When and what to push to your phones; every notice is still kept and streamed.",
)

# People who carry the app (as app/devices/routes.py): service accounts have no phone to push to.
APP_USERS = (Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.ADMIN)


@blp.route("")
class MyNotificationSettings(MethodView):
    @require_role(*APP_USERS)
    @blp.response(200, NotificationSettingsRead)
    def get(self):
        """Your notification settings (the defaults until you save any: everything pushed at any hour)."""
        with db.transaction() as session:
            return service.get_settings(session, user=current_user())

    @require_role(*APP_USERS)
    @idempotent
    @blp.arguments(NotificationSettingsWrite)
    @blp.response(200, NotificationSettingsRead)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def put(self, payload):
        """Replace your notification settings: quiet hours in your time zone, kinds not pushed."""
        with db.transaction() as session:
            return service.save_settings(session, user=current_user(), **payload)
