from flask.views import MethodView

from app import db
from app.api import Blueprint
from app.auth.guards import current_user, require_role
from app.notices import service
from app.notices.schemas import NoticePage, NoticeQuery

blp = Blueprint("notices", __name__, url_prefix="/api/v1/notices", description="Your notices.")


@blp.route("")
class Notices(MethodView):
    @require_role()
    @blp.arguments(NoticeQuery, location="query")
    @blp.response(200, NoticePage)
    def get(self, query):
        """Your notices, newest first."""
        with db.transaction() as session:
            return service.list_notices(session, recipient=current_user(), **query)
