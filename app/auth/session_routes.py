"""Routes for the signed-in user's own sign-ins: list them, end one, end all the others."""

from __future__ import annotations

from flask.views import MethodView

from app import db
from app.auth import sessions
from app.auth.account_schemas import SignInList, SignInsEnded
from app.auth.guards import current_actor, current_session_id, current_user, require_role
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.idempotency.guards import idempotent

blp = Blueprint(
    "my_sessions", __name__, url_prefix="/api/v1/me/sessions", description="Your sign-ins: see them, end them."
)


@blp.route("")
class MySessions(MethodView):
    @require_role(password_change_pending_ok=True)
    @blp.response(200, SignInList)
    def get(self):
        """Your live sign-ins, most recently used first: device, app version, last seen, network; this one marked."""
        with db.transaction() as session:
            return sessions.list_sessions(
                session, user=current_user(), current=current_session_id(), settings=current_settings()
            )


@blp.route("/<string:session_id>")
class MySessionById(MethodView):
    # Ending a sign-in is what a user with a pending password change may well want (a stolen phone).
    @require_role(password_change_pending_ok=True)
    @idempotent
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, session_id: str):
        """End one of your sign-ins: its tokens and streams stop, its phone gets no more pushes."""
        with db.transaction() as session:
            sessions.revoke_session(session, session_id, user=current_user(), actor=current_actor())


@blp.route("/revoke-others")
class MyOtherSessions(MethodView):
    @require_role(password_change_pending_ok=True)
    @idempotent
    @blp.response(200, SignInsEnded)
    def post(self):
        """End every sign-in but this one ("sign out everywhere else")."""
        with db.transaction() as session:
            ended = sessions.revoke_other_sessions(
                session, user=current_user(), keep=current_session_id(), actor=current_actor()
            )
        return {"revoked": ended}
