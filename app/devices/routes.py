from flask.views import MethodView

from app import db
from app.auth.guards import current_session_id, current_user, require_role
from app.common.blueprint import Blueprint
from app.devices import service
from app.devices.schemas import DevicePage, DeviceQuery, DeviceRead, DeviceUpsert
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "devices", __name__, url_prefix="/api/v1/devices", description="Your phones, registered for push notices."
)

# People who carry the app; the customs gateway is a service account and has no phone.
APP_USERS = (Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.ADMIN)


@blp.route("")
class Devices(MethodView):
    @require_role(*APP_USERS)
    @blp.arguments(DeviceQuery, location="query")
    @blp.response(200, DevicePage)
    def get(self, query):
        """Your registered devices, newest first, with whether pushes reach each."""
        with db.transaction() as session:
            return service.list_devices(session, user=current_user(), **query)


@blp.route(
    "/<string:device_id>",
    parameters=[
        {
            "in": "path",
            "name": "device_id",
            "description": "The install id the app generated on first launch; it survives sign-outs.",
            "schema": {"type": "string", "pattern": f"^{service.DEVICE_ID.pattern}$"},
        }
    ],
)
class DeviceById(MethodView):
    @require_role(*APP_USERS)
    @idempotent
    @blp.arguments(DeviceUpsert)
    @blp.response(200, DeviceRead, description="Your registration of this device was refreshed.")
    @blp.alt_response(
        201,
        schema=DeviceRead,
        description="The device is now registered to you: new, signed out before, or another user's until now "
        "(which takes the push token that user registered it with).",
    )
    @blp.alt_response(409, response="CONFLICT")
    def put(self, payload, device_id):
        """Register this device for push notices or refresh its registration; the app calls it on every launch."""
        with db.transaction() as session:
            registration = service.register_device(
                session, device_id, user=current_user(), auth_session_id=current_session_id(), **payload
            )
        return registration.device, 201 if registration.created else 200

    # Signing out must work even while a reset password waits to be changed.
    @require_role(*APP_USERS, password_change_pending_ok=True)
    @idempotent
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, device_id):
        """Stop push notices to this device when you sign out of it."""
        with db.transaction() as session:
            service.unregister_device(session, device_id, user=current_user())
