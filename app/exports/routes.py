from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.declarations import service as declarations
from app.declarations.schemas import TimelineRead
from app.exports import lists
from app.exports.lists import EXPORT
from app.exports.schemas import ExportListCreate, ExportListPage, ExportListQuery, ExportListRead
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api/v1",
    description="Cross-border e-commerce export: export lists (CEB603), parcels and the zone flow.",
)


@blp.route("/export-lists")
class ExportLists(MethodView):
    @require_role()
    @blp.arguments(ExportListQuery, location="query")
    @blp.response(200, ExportListPage)
    def get(self, query):
        """List the export lists you may see, newest first."""
        with db.transaction() as session:
            return lists.list_export_lists(session, viewer=current_user(), **query)

    @require_role(Role.DECLARANT)
    @idempotent
    @blp.arguments(ExportListCreate)
    @blp.response(201, ExportListRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Submit an export list (9610, 9710, 9810 or 1210 bonded export) with its goods lines and parcels."""
        with db.transaction() as session:
            declaration = lists.submit(session, declarant=current_user(), **payload)
            return lists.get_export_list(session, declaration.id, viewer=current_user())


@blp.route("/export-lists/<int:declaration_id>")
class ExportListById(MethodView):
    @require_role()
    @blp.response(200, ExportListRead)
    def get(self, declaration_id):
        """Read an export list with its goods lines and parcels."""
        with db.transaction() as session:
            return lists.get_export_list(session, declaration_id, viewer=current_user())


@blp.route("/export-lists/<int:declaration_id>/timeline")
class ExportListTimeline(MethodView):
    @require_role()
    @blp.response(200, TimelineRead)
    def get(self, declaration_id):
        """Every step of the export list, from submission to departure, in the order it happened."""
        with db.transaction() as session:
            events = declarations.timeline(session, declaration_id, viewer=current_user(), kind=EXPORT)
            return {"declaration_id": declaration_id, "events": events}
