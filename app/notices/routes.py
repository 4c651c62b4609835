from flask.views import MethodView

from app import db
from app.api import Blueprint
from app.auth.guards import current_user, require_role
from app.notices import service
from app.notices.schemas import AckCreate, CountRead, FeedQuery, FeedRead, ReadCreate

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
    @blp.arguments(AckCreate)
    @blp.response(200, CountRead)
    def post(self, payload):
        """Acknowledge every notice up to a seq (the app has them)."""
        with db.transaction() as session:
            return {"updated": service.acknowledge(session, recipient=current_user(), **payload)}


@blp.route("/read")
class NoticesRead(MethodView):
    @require_role()
    @blp.arguments(ReadCreate)
    @blp.response(200, CountRead)
    def post(self, payload):
        """Mark notices read by their ids."""
        with db.transaction() as session:
            return {"updated": service.mark_read(session, recipient=current_user(), notice_ids=payload["ids"])}
