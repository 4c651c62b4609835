from flask import current_app, request
from flask.views import MethodView

from app import db
from app.auth import service
from app.auth.guards import client_address, current_actor, current_session_id, require_role
from app.auth.schemas import LoginCreate, RefreshCreate, TokenPairRead
from app.auth.throttle import LoginThrottle
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.ratelimit import limiter, per_client

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in, refresh tokens, sign out.")


# No Idempotency-Key on sign-in, refresh and sign-out: keys belong to a signed-in user, token answers must never be
# stored, and a retried sign-out finds its sign-in already ended.
@blp.route("/login")
class Login(MethodView):
    @per_client("LOGIN_RATE_LIMIT", scope="login")
    @blp.arguments(LoginCreate)
    @blp.response(200, TokenPairRead)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, credentials):
        """Sign in with username and password; answers an access and a refresh token.

        Failed attempts are throttled per account and address (429 `login_throttled` with Retry-After), never
        locked out. A machine account given an API key can no longer sign in with its password.
        """
        settings, client_addr = current_settings(), client_address()
        throttle = LoginThrottle(
            limiter(),
            per_address=current_app.config["LOGIN_FAILURE_LIMIT"],
            per_account=current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"],
        )
        # The slow password hash runs in a read; only then does the sign-in take the write lock to record itself.
        with db.reading(db.session_factory()) as session:
            checked = service.check_password(
                session, client_addr=client_addr, settings=settings, throttle=throttle, **credentials
            )
        with db.transaction() as session:
            return service.login(
                session,
                checked=checked,
                client_addr=client_addr,
                user_agent=request.user_agent.string,
                settings=settings,
                throttle=throttle,
                **credentials,
            )


@blp.route("/refresh")
class Refresh(MethodView):
    @per_client("LOGIN_RATE_LIMIT", scope="refresh")
    @blp.arguments(RefreshCreate)
    @blp.response(200, TokenPairRead)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, payload):
        """Exchange a refresh token for a new pair; the old refresh token is retired."""
        with db.transaction() as session:
            return service.refresh(
                session,
                refresh_token=payload["refresh_token"],
                client_addr=client_address(),
                settings=current_settings(),
            )


@blp.route("/logout")
class Logout(MethodView):
    @require_role(password_change_pending_ok=True)
    @blp.response(204)
    def post(self):
        """End this sign-in: its access and refresh tokens stop working."""
        with db.transaction() as session:
            service.logout(session, session_id=current_session_id(), actor=current_actor())
