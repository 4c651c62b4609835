from flask import Response, current_app, request
from flask.views import MethodView

from app import db
from app.auth.errors import PasswordChangeRequired
from app.auth.guards import authenticate_bearer, current_session_id, current_user, require_role
from app.common.blueprint import Blueprint
from app.common.figures import FiguresQuery
from app.config import current_settings
from app.errors import InvalidInput
from app.i18n import _
from app.idempotency.guards import idempotent
from app.notices import service, stream
from app.notices.schemas import (
    AckCreate,
    CountRead,
    DeliveryFiguresRead,
    FeedQuery,
    FeedRead,
    ReadCreate,
    StreamQuery,
    StreamTicketRead,
)
from app.users.models import Role

blp = Blueprint(
    "notices", __name__, url_prefix="/api/v1/notices", description="Your notices: catch up and acknowledge."
)


@blp.route("")
class Notices(MethodView):
    @require_role()
    @blp.arguments(FeedQuery, location="query")
    @blp.response(200, FeedRead)
    @blp.alt_response(410, response="GONE")
    def get(self, query):
        """Your notices after a seq, oldest first: call on launch, on every push and on reconnect."""
        with db.transaction() as session:
            return service.catch_up(session, recipient=current_user(), **query)


@blp.route("/ack")
class NoticesAck(MethodView):
    @require_role()
    @idempotent
    @blp.arguments(AckCreate)
    @blp.response(200, CountRead)
    def post(self, payload):
        """Acknowledge every notice up to a seq (the app has them)."""
        with db.transaction() as session:
            return {"updated": service.acknowledge(session, recipient=current_user(), **payload)}


@blp.route("/read")
class NoticesRead(MethodView):
    @require_role()
    @idempotent
    @blp.arguments(ReadCreate)
    @blp.response(200, CountRead)
    def post(self, payload):
        """Mark notices read by their ids; the user's other phones drop them from their notification trays."""
        with db.transaction() as session:
            return {
                "updated": service.mark_read(
                    session, recipient=current_user(), notice_ids=payload["ids"], device_id=payload.get("device_id")
                )
            }


@blp.route("/figures")
class DeliveryFigures(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(FiguresQuery, location="query")
    @blp.response(200, DeliveryFiguresRead)
    def get(self, query):
        """Median and p99 time from decision to push and to the app, and overdue inspection notices."""
        with db.transaction() as session:
            return service.delivery_figures(session, **query)


@blp.route("/stream-ticket")
class StreamTickets(MethodView):
    # No Idempotency-Key: a ticket is a single-use credential, not to be stored; a retry just gets a fresh one.
    @require_role()
    @blp.response(201, StreamTicketRead)
    def post(self):
        """A single-use ticket to open the event stream from a client that cannot send headers (EventSource)."""
        ttl = current_settings().stream_ticket_ttl
        with db.transaction() as session:
            ticket = service.issue_stream_ticket(session, auth_session_id=current_session_id(), ttl=ttl)
        return {"ticket": ticket, "expires_in": int(ttl.total_seconds())}


# One event as a client's EventSource parses it: `data` is JSON text, a notice (`event: notice`, `id` its seq) or
# {"code": ...} saying why the sign-in ended (`event: signed_out`).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["notice", "signed_out"]},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "data": {"type": "string", "description": 'JSON: the notice, or {"code": ...} for `signed_out`.'},
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["event", "data"],
}


@blp.route("/stream")
class NoticeStream(MethodView):
    @blp.arguments(StreamQuery, location="query")
    @blp.doc(
        security=[{"bearerAuth": []}, {}],
        responses={
            "200": {
                "description": (
                    "Server-Sent Events. Each notice is `id: <seq>`, `event: notice`, `data: <notice JSON>`; "
                    "comments are heartbeats; `event: signed_out` ends the stream when the sign-in ends."
                ),
                # OpenAPI 3.0 has no `itemSchema`: for an event stream, `schema` describes each event.
                "content": {"text/event-stream": {"schema": SSE_EVENT}},
            },
            "401": "UNAUTHORIZED",
            "403": "FORBIDDEN",
            "410": "GONE",
        },
        parameters=[
            {
                "in": "header",
                "name": "Last-Event-ID",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
                "description": "The last seq received; browsers send it when they reconnect.",
            }
        ],
    )
    def get(self, query):
        """Your notices live: missed ones first, then each as it happens.

        Authenticate with a bearer token, or with ?ticket= where headers cannot be sent.
        """
        settings = current_settings()
        after_seq = _resume_point(query.get("after_seq", 0))
        with db.transaction() as session:
            if "ticket" in query:
                user, auth_session_id = service.redeem_stream_ticket(session, query["ticket"])
            else:
                user, auth_session_id = authenticate_bearer()
            if user.must_change_password:
                raise PasswordChangeRequired(_("Change your password before using the rest of the API."))
            service.ensure_cursor_kept(session, after_seq=after_seq)
        events = stream.notice_events(
            current_app.extensions["notice_hub"],
            current_app.extensions["sessionmaker"],
            recipient=user,
            auth_session_id=auth_session_id,
            after_seq=after_seq,
            heartbeat_seconds=settings.stream_heartbeat_seconds,
            retry_ms=settings.stream_retry_ms,
        )
        # no-cache: nothing between us and the app may keep it; X-Accel-Buffering: nginx must pass each event at once.
        return Response(
            events,
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _resume_point(after_seq: int) -> int:
    """Where the stream starts: a reconnecting EventSource's Last-Event-ID beats the URL it first opened."""
    header = request.headers.get("Last-Event-ID")
    if header is None or header == "":
        return after_seq
    if not header.isascii() or not header.isdigit():
        raise InvalidInput(
            _("Last-Event-ID must be a seq from this stream."),
            errors={"headers": {"Last-Event-ID": [_("A non-negative integer.")]}},
        )
    return int(header)
