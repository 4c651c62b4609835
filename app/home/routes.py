"""The app's home screen in one call."""

from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.home import service
from app.home.schemas import HomeRead
from app.users.models import Role

blp = Blueprint("home", __name__, url_prefix="/api/v1/me/home", description="Your home screen in one call.")


@blp.route("")
class Home(MethodView):
    @require_role(Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.ADMIN)
    @blp.response(200, HomeRead)
    def get(self):
        """Your home screen: notice counts and the newest notices, your lists by status, what waits on you."""
        with db.transaction() as session:
            return service.home_for(session, current_user())
