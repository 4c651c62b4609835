from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.bonded_lists import service
from app.bonded_lists.schemas import (
    ApprovalCreate,
    BondedListCreate,
    BondedListPage,
    BondedListQuery,
    BondedListRead,
    EntryReleaseCreate,
)
from app.common.blueprint import Blueprint
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "bonded_lists", __name__, url_prefix="/api/v1", description="Bonded verification lists (核注清单, INV101)."
)

# INV201 and the entry's release arrive through the customs gateway; an officer may record them in the app.
CUSTOMS = (Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY)


@blp.route("/bonded-lists")
class BondedLists(MethodView):
    @require_role()
    @blp.arguments(BondedListQuery, location="query")
    @blp.response(200, BondedListPage)
    def get(self, query):
        """List the bonded lists you may see, newest first."""
        with db.transaction() as session:
            return service.list_bonded_lists(session, viewer=current_user(), **query)

    @require_role(Role.DECLARANT)
    @idempotent
    @blp.arguments(BondedListCreate)
    @blp.response(201, BondedListRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Declare a bonded list (INV101) with its goods lines."""
        with db.transaction() as session:
            return service.declare(session, declarant=current_user(), actor=current_actor(), **payload)


@blp.route("/bonded-lists/<int:bonded_list_id>")
class BondedListById(MethodView):
    @require_role()
    @blp.response(200, BondedListRead)
    def get(self, bonded_list_id):
        """Read a bonded list with its goods lines."""
        with db.transaction() as session:
            return service.get_bonded_list_for(session, bonded_list_id, viewer=current_user(), with_lines=True)

    @require_role(Role.DECLARANT)
    @idempotent
    @blp.response(200, BondedListRead)
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, bonded_list_id):
        """Delete a bonded list customs has not decided on yet; it stays readable as deleted."""
        with db.transaction() as session:
            return service.delete(session, bonded_list_id, declarant=current_user(), actor=current_actor())


@blp.route("/bonded-lists/<int:bonded_list_id>/approval")
class BondedListApproval(MethodView):
    @require_role(*CUSTOMS)
    @idempotent
    @blp.arguments(ApprovalCreate)
    @blp.response(200, BondedListRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, bonded_list_id):
        """Record customs' decision on a declared list (INV201): approved, or rejected with a reason."""
        with db.transaction() as session:
            return service.record_approval(
                session, bonded_list_id, approver=current_user(), actor=current_actor(), **payload
            )


@blp.route("/bonded-lists/<int:bonded_list_id>/entry-release")
class BondedListEntryRelease(MethodView):
    @require_role(*CUSTOMS)
    @idempotent
    @blp.arguments(EntryReleaseCreate)
    @blp.response(200, BondedListRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, bonded_list_id):
        """Record the release of the customs declaration (报关单) the list needs."""
        with db.transaction() as session:
            return service.release_entry(
                session, bonded_list_id, officer=current_user(), actor=current_actor(), **payload
            )
