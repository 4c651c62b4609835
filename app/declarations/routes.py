from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.common.figures import FiguresQuery
from app.declarations import figures, service
from app.declarations.schemas import (
    ClearanceFiguresRead,
    DeclarationCreate,
    DeclarationPage,
    DeclarationQuery,
    DeclarationRead,
    TimelineRead,
)
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint("declarations", __name__, url_prefix="/api/v1", description="Inventory lists and their timeline.")


@blp.route("/declarations")
class Declarations(MethodView):
    @require_role()
    @blp.arguments(DeclarationQuery, location="query")
    @blp.response(200, DeclarationPage)
    def get(self, query):
        """List the declarations you may see, newest first."""
        with db.transaction() as session:
            return service.list_declarations(session, viewer=current_user(), **query)

    @require_role(Role.DECLARANT)
    @idempotent
    @blp.arguments(DeclarationCreate)
    @blp.response(201, DeclarationRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Submit an inventory list (1210 bonded import)."""
        with db.transaction() as session:
            return service.submit(session, declarant=current_user(), **payload)


@blp.route("/declarations/<int:declaration_id>")
class DeclarationById(MethodView):
    @require_role()
    @blp.response(200, DeclarationRead)
    def get(self, declaration_id):
        """Read a declaration with its goods lines."""
        with db.transaction() as session:
            return service.get_declaration_for(session, declaration_id, viewer=current_user(), with_lines=True)


@blp.route("/declarations/<int:declaration_id>/corrections")
class DeclarationCorrections(MethodView):
    @require_role(Role.DECLARANT)
    @idempotent
    @blp.arguments(DeclarationCreate)
    @blp.response(201, DeclarationRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, declaration_id):
        """Resubmit a rejected declaration as a corrected copy linked to it."""
        with db.transaction() as session:
            return service.resubmit(session, declaration_id, declarant=current_user(), **payload)


@blp.route("/declarations/<int:declaration_id>/timeline")
class DeclarationTimeline(MethodView):
    @require_role()
    @blp.response(200, TimelineRead)
    def get(self, declaration_id):
        """Every step of the declaration's clearance, in the order it happened."""
        with db.transaction() as session:
            events = service.timeline(session, declaration_id, viewer=current_user())
            return {"declaration_id": declaration_id, "events": events}


@blp.route("/admin/figures/clearance")
class ClearanceFigures(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(FiguresQuery, location="query")
    @blp.response(200, ClearanceFiguresRead)
    def get(self, query):
        """Median and p90 clearance times, inspection rate and status counts over a date range."""
        with db.transaction() as session:
            return figures.clearance_figures(session, **query)
