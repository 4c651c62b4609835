from flask import request
from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.common.pagination import PageQuery
from app.exports import containers, departure, loading, loading_batch, recheck, release
from app.exports.departure_schemas import DEPARTURE_BODY, DepartureRead, load_departure
from app.exports.loading_schemas import (
    BagCreate,
    BagDetail,
    BagNos,
    BagPage,
    BagQuery,
    BagRead,
    BagScanRead,
    ContainerBagsRead,
    ContainerCreate,
    ContainerGatePassCreate,
    ContainerLoadCreate,
    ContainerLoadRead,
    ContainerPage,
    ContainerQuery,
    ContainerRead,
    ParcelRecheckCreate,
    ParcelRecheckPage,
    ParcelRecheckRead,
    PortRecordRead,
    SealCreate,
    Waybills,
)
from app.idempotency.guards import idempotent
from app.inspections.schemas import TaskRead
from app.users.models import Role

blp = Blueprint(
    "export_loading",
    __name__,
    url_prefix="/api/v1",
    description="Export open-box recheck, master bags and containers, zone–port linked release and departure.",
)

OPERATOR = Role.WAREHOUSE_OPERATOR
READERS = (Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.ADMIN)


@blp.route("/export-lists/<int:declaration_id>/recheck-task")
class RecheckTask(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.response(200, TaskRead)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, declaration_id):
        """Open the list's open-box recheck at the bench (its inspection task, started) so photos can be taken."""
        with db.transaction() as session:
            return recheck.open_bench_task(session, declaration_id, officer=current_user())


@blp.route("/export-lists/<int:declaration_id>/rechecks")
class ListRechecks(MethodView):
    @require_role()
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, ParcelRecheckPage)
    def get(self, query, declaration_id):
        """The open-box rechecks of an export list's parcels, newest first."""
        with db.transaction() as session:
            return recheck.list_rechecks(session, declaration_id, viewer=current_user(), **query)


@blp.route("/export/rechecks")
class Rechecks(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(ParcelRecheckCreate)
    @blp.response(201, ParcelRecheckRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Record the open-box recheck of a diverted parcel: release, hold for a booked inspection, or return it."""
        with db.transaction() as session:
            return recheck.record(session, officer=current_user(), **payload)


@blp.route("/export/bags")
class Bags(MethodView):
    @require_role(*READERS)
    @blp.arguments(BagQuery, location="query")
    @blp.response(200, BagPage)
    def get(self, query):
        """Master bags you may see, newest first."""
        with db.transaction() as session:
            return loading.list_bags(session, viewer=current_user(), **query)

    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(BagCreate)
    @blp.response(201, BagRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Open a master bag (总包) under its label's number."""
        with db.transaction() as session:
            return loading.open_bag(session, operator=current_user(), **payload)


@blp.route("/export/bags/<int:bag_id>")
class BagById(MethodView):
    @require_role(*READERS)
    @blp.response(200, BagDetail)
    def get(self, bag_id):
        """Read a bag with its parcels' waybills."""
        with db.transaction() as session:
            return loading.get_bag_for(session, bag_id, viewer=current_user())


@blp.route("/export/bags/<int:bag_id>/parcels")
class BagParcels(MethodView):
    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(Waybills)
    @blp.response(200, BagScanRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, bag_id):
        """Scan parcels into an open bag; each waybill answers bagged or why not (only released, passed parcels)."""
        with db.transaction() as session:
            bag, taken = loading.add_parcels(session, bag_id, operator=current_user(), **payload)
            results = [{"waybill_no": w, "outcome": taken.outcomes[w]} for w in payload["waybills"]]
            return {"bag": bag, "results": results}


@blp.route("/export/bags/<int:bag_id>/close")
class BagClose(MethodView):
    @require_role(OPERATOR)
    @idempotent
    @blp.response(200, BagRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, bag_id):
        """Close a bag: it waits for a container."""
        with db.transaction() as session:
            return loading.close_bag(session, bag_id, operator=current_user())


@blp.route("/export/containers")
class Containers(MethodView):
    @require_role(*READERS)
    @blp.arguments(ContainerQuery, location="query")
    @blp.response(200, ContainerPage)
    def get(self, query):
        """Containers and ULDs you may see, newest first."""
        with db.transaction() as session:
            return containers.list_containers(session, viewer=current_user(), **query)

    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(ContainerCreate)
    @blp.response(201, ContainerRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Start loading a container or ULD for a flight or train."""
        with db.transaction() as session:
            return containers.create_container(session, operator=current_user(), **payload)


@blp.route("/export/containers/load")
class ContainerLoad(MethodView):
    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(ContainerLoadCreate)
    @blp.response(201, ContainerLoadRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Load a whole container in one request: its bags and up to 10,000 parcels; refusals are listed per parcel."""
        with db.transaction() as session:
            return loading_batch.load_container(session, operator=current_user(), **payload)


@blp.route("/export/containers/<int:container_id>")
class ContainerById(MethodView):
    @require_role(*READERS)
    @blp.response(200, ContainerRead)
    def get(self, container_id):
        """Read a container with its bags."""
        with db.transaction() as session:
            return containers.get_container_for(session, container_id, viewer=current_user())


@blp.route("/export/containers/<int:container_id>/bags")
class ContainerBags(MethodView):
    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(BagNos)
    @blp.response(200, ContainerBagsRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, container_id):
        """Load closed bags into a container; each bag number answers loaded or why not."""
        with db.transaction() as session:
            container, outcomes = containers.load_bags(session, container_id, operator=current_user(), **payload)
            results = [{"bag_no": bag_no, "outcome": outcomes[bag_no]} for bag_no in payload["bag_nos"]]
            return {"container": container, "results": results}


@blp.route("/export/containers/<int:container_id>/seal")
class ContainerSeal(MethodView):
    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(SealCreate)
    @blp.response(200, ContainerRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, container_id):
        """Seal a loaded container with its seal (封志) number."""
        with db.transaction() as session:
            return containers.seal(session, container_id, operator=current_user(), **payload)


@blp.route("/export/containers/<int:container_id>/gate-pass")
class ContainerGatePass(MethodView):
    @require_role(OPERATOR)
    @idempotent
    @blp.arguments(ContainerGatePassCreate)
    @blp.response(200, ContainerRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, container_id):
        """Declare the gate pass a sealed container leaves by (e-commerce lane; container, seal and weight checked)."""
        with db.transaction() as session:
            return release.declare_gate_pass(
                session, container_id, operator=current_user(), actor=current_actor(), **payload
            )


@blp.route("/export/containers/<int:container_id>/left-zone")
class ContainerLeftZone(MethodView):
    @require_role(Role.GATE_OPERATOR, Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.response(200, ContainerRead)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, container_id):
        """The container's vehicle passed the gate on its pass: it left the zone and the port gets its one record."""
        with db.transaction() as session:
            return release.leave_zone(session, container_id, reporter=current_user())


@blp.route("/export/containers/<int:container_id>/port-record")
class ContainerPortRecord(MethodView):
    @require_role(*READERS)
    @blp.response(200, PortRecordRead)
    def get(self, container_id):
        """The one record the port received (zone–port linkage): container, seal, bags, lists, zone inspection."""
        with db.transaction() as session:
            return release.port_record_for(session, container_id, viewer=current_user())


@blp.route("/export/departures")
class Departures(MethodView):
    @require_role(Role.CUSTOMS_GATEWAY)
    @idempotent
    @blp.doc(requestBody=DEPARTURE_BODY)
    @blp.response(200, DepartureRead)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self):
        """Take a departure (CEB509, with its CEB510 status): the bill's containers and parcels depart, lists close."""
        document = load_departure(request.get_data(cache=True), request.mimetype)
        with db.transaction() as session:
            return departure.depart(session, gateway=current_user(), document=document)
