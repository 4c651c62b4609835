"""Routes for accounts: the signed-in user's own profile and password (/me), and admins managing users."""

from flask.views import MethodView

from app import db
from app.auth import users as service
from app.auth.guards import current_actor, current_session_id, current_user, require_role
from app.auth.user_schemas import (
    MeUpdate,
    PasswordChange,
    PasswordReset,
    PasswordResetRead,
    UserCreate,
    UserPage,
    UserQuery,
    UserRead,
    UserUpdate,
)
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.idempotency.guards import idempotent
from app.users.models import Role

me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user.")
admin_blp = Blueprint(
    "admin_users", __name__, url_prefix="/api/v1/admin/users", description="User management (admins)."
)


@me_blp.route("")
class Me(MethodView):
    @require_role(password_change_pending_ok=True)
    @me_blp.response(200, UserRead)
    def get(self):
        """Read your own profile."""
        return current_user()

    @require_role(password_change_pending_ok=True)
    @idempotent
    @me_blp.arguments(MeUpdate)
    @me_blp.response(200, UserRead)
    def patch(self, payload):
        """Change your name, phone or the language of your notices."""
        with db.transaction() as session:
            return service.update_profile(session, current_user(), **payload)


@me_blp.route("/password")
class MyPassword(MethodView):
    # No Idempotency-Key: the body holds passwords, whose hash must not be kept; a retry answers 401 harmlessly.
    @require_role(password_change_pending_ok=True)
    @me_blp.arguments(PasswordChange)
    @me_blp.response(204)
    def post(self, payload):
        """Change your password; your other sign-ins end."""
        with db.transaction() as session:
            service.change_password(
                session,
                current_user(),
                keep_session=current_session_id(),
                actor=current_actor(),
                settings=current_settings(),
                **payload,
            )


@admin_blp.route("")
class AdminUsers(MethodView):
    @require_role(Role.ADMIN)
    @admin_blp.arguments(UserQuery, location="query")
    @admin_blp.response(200, UserPage)
    def get(self, query):
        """List users, newest first, filtered by role, enterprise, text or state."""
        with db.transaction() as session:
            return service.list_users(session, **query)

    # No Idempotency-Key: the body holds the first password, whose hash must not be kept; a retry is a 409 anyway.
    @require_role(Role.ADMIN)
    @admin_blp.arguments(UserCreate)
    @admin_blp.response(201, UserRead)
    @admin_blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Create a user, who must set a new password at first sign-in."""
        with db.transaction() as session:
            return service.create_user(session, actor=current_actor(), settings=current_settings(), **payload)


@admin_blp.route("/<int32:user_id>")
class AdminUserById(MethodView):
    @require_role(Role.ADMIN)
    @admin_blp.response(200, UserRead)
    def get(self, user_id):
        """Read a user."""
        with db.transaction() as session:
            return service.get_user(session, user_id)

    @require_role(Role.ADMIN)
    @idempotent
    @admin_blp.arguments(UserUpdate)
    @admin_blp.response(200, UserRead)
    @admin_blp.alt_response(409, response="CONFLICT")
    def patch(self, payload, user_id):
        """Change a user's profile, role, enterprise, or lock, unlock, deactivate or reactivate them."""
        with db.transaction() as session:
            return service.update_user(session, user_id, actor=current_actor(), **payload)


@admin_blp.route("/<int32:user_id>/password-reset")
class AdminUserPasswordReset(MethodView):
    # No Idempotency-Key: the answer holds a temporary password, which must not be stored to be replayed.
    @require_role(Role.ADMIN)
    @admin_blp.arguments(PasswordReset)
    @admin_blp.response(200, PasswordResetRead)
    def post(self, payload, user_id):
        """Reset a user's password to a temporary one; their sessions end."""
        with db.transaction() as session:
            return service.reset_password(
                session, user_id, actor=current_actor(), settings=current_settings(), **payload
            )
