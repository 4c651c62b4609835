from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.common.pagination import PageQuery
from app.exports import gate_passing
from app.exports import release as export_release
from app.gates import approval, arrival, figures, lanes, passage, passes, vehicles, weighing
from app.gates.schemas import (
    ArrivalCreate,
    DecisionCreate,
    FiguresQuery,
    GateCreate,
    GateFiguresRead,
    GatePage,
    GatePassCreate,
    GatePassPage,
    GatePassQuery,
    GatePassRead,
    GateRead,
    HoldCreate,
    LaneCreate,
    LaneRead,
    LaneSwitch,
    PassagePage,
    PassageQuery,
    PassageRead,
    VehicleCreate,
    VehiclePage,
    VehicleQuery,
    VehicleRead,
    WeightCreate,
)
from app.idempotency.guards import idempotent
from app.rules import cache as rules
from app.users.models import Role

blp = Blueprint(
    "gates", __name__, url_prefix="/api/v1", description="Gates, lanes, vehicles, gate passes and passages."
)

GATE_STAFF = (Role.GATE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN)
PASS_READERS = (Role.DECLARANT, *GATE_STAFF)
LANE_SWITCHERS = (Role.ADMIN, Role.GATE_OPERATOR)
# The SAS221 approval arrives through the customs gateway; an officer may approve in the app.
APPROVERS = (Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY)
DECIDERS = (Role.GATE_OPERATOR, Role.CUSTOMS_OFFICER)


@blp.route("/gates")
class Gates(MethodView):
    @require_role(*GATE_STAFF)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, GatePage)
    def get(self, query):
        """List gates with their lanes, newest first."""
        with db.transaction() as session:
            return lanes.list_gates(session, **query)

    @require_role(Role.ADMIN)
    @idempotent
    @blp.arguments(GateCreate)
    @blp.response(201, GateRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Register a checkpoint gate."""
        with db.transaction() as session:
            return lanes.create_gate(session, actor=current_actor(), **payload)


@blp.route("/gates/<int32:gate_id>")
class GateById(MethodView):
    @require_role(*GATE_STAFF)
    @blp.response(200, GateRead)
    def get(self, gate_id):
        """Read a gate with its lanes."""
        with db.transaction() as session:
            return lanes.get_gate(session, gate_id)


@blp.route("/gates/<int32:gate_id>/lanes")
class GateLanes(MethodView):
    @require_role(Role.ADMIN)
    @idempotent
    @blp.arguments(LaneCreate)
    @blp.response(201, LaneRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, gate_id):
        """Add a lane to a gate."""
        with db.transaction() as session:
            return lanes.add_lane(session, gate_id, actor=current_actor(), **payload)


@blp.route("/lanes/<int32:lane_id>")
class LaneById(MethodView):
    @require_role(*LANE_SWITCHERS)
    @idempotent
    @blp.arguments(LaneSwitch)
    @blp.response(200, LaneRead)
    def patch(self, payload, lane_id):
        """Switch a lane's type or direction, or open/close it; audited with the reason given."""
        with db.transaction() as session:
            return lanes.switch_lane(session, lane_id, actor=current_actor(), **payload)


@blp.route("/vehicles")
class Vehicles(MethodView):
    @require_role(Role.DECLARANT, *GATE_STAFF)
    @blp.arguments(VehicleQuery, location="query")
    @blp.response(200, VehiclePage)
    def get(self, query):
        """List the vehicles you may see (your enterprise's, or all for gate and customs staff)."""
        with db.transaction() as session:
            return vehicles.list_vehicles(session, viewer=current_user(), **query)

    @require_role(Role.DECLARANT, Role.ADMIN)
    @idempotent
    @blp.arguments(VehicleCreate)
    @blp.response(201, VehicleRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Register a vehicle with its plate, IC card, class, tare weight and container."""
        with db.transaction() as session:
            return vehicles.register_vehicle(session, registrant=current_user(), actor=current_actor(), **payload)


@blp.route("/vehicles/<int32:vehicle_id>")
class VehicleById(MethodView):
    @require_role(Role.DECLARANT, *GATE_STAFF)
    @blp.response(200, VehicleRead)
    def get(self, vehicle_id):
        """Read a vehicle."""
        with db.transaction() as session:
            return vehicles.get_vehicle_for(session, vehicle_id, viewer=current_user())


@blp.route("/gate-passes")
class GatePasses(MethodView):
    @require_role(*PASS_READERS)
    @blp.arguments(GatePassQuery, location="query")
    @blp.response(200, GatePassPage)
    def get(self, query):
        """List the gate passes you may see, newest first."""
        with db.transaction() as session:
            return passes.list_passes(session, viewer=current_user(), **query)

    @require_role(Role.DECLARANT)
    @idempotent
    @blp.arguments(GatePassCreate)
    @blp.response(201, GatePassRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Declare a gate pass (核放单) binding a vehicle to the declarations or bonded lists it carries."""
        with db.transaction() as session:
            return passes.declare_pass(session, declarant=current_user(), actor=current_actor(), **payload)


@blp.route("/gate-passes/<int:pass_id>")
class GatePassById(MethodView):
    @require_role(*PASS_READERS)
    @blp.response(200, GatePassRead)
    def get(self, pass_id):
        """Read a gate pass."""
        with db.transaction() as session:
            return passes.get_pass_for(session, pass_id, viewer=current_user())


@blp.route("/gate-passes/<int:pass_id>/void")
class GatePassVoid(MethodView):
    @require_role(Role.DECLARANT)
    @idempotent
    @blp.response(200, GatePassRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, pass_id):
        """Void a gate pass the vehicle has not used."""
        with db.transaction() as session:
            return passes.void_pass(session, pass_id, declarant=current_user(), actor=current_actor())


@blp.route("/gate-passes/<int:pass_id>/approve")
class GatePassApprove(MethodView):
    @require_role(*APPROVERS)
    @idempotent
    @blp.response(200, GatePassRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, pass_id):
        """Approve a gate pass, or lift a gate hold (SAS221); the lists it covers must allow it."""
        with db.transaction() as session:
            return approval.approve_pass(session, pass_id, approver=current_user(), actor=current_actor())


@blp.route("/gate-passes/<int:pass_id>/hold")
class GatePassHold(MethodView):
    @require_role(*APPROVERS)
    @idempotent
    @blp.arguments(HoldCreate)
    @blp.response(200, GatePassRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, pass_id):
        """Hold a gate pass for customs (SAS224): no vehicle passes on it until approve releases it."""
        with db.transaction() as session:
            return approval.hold_pass(session, pass_id, officer=current_user(), actor=current_actor(), **payload)


@blp.route("/gate/arrivals")
class Arrivals(MethodView):
    @require_role(Role.GATE_OPERATOR)
    @idempotent
    @blp.arguments(ArrivalCreate)
    @blp.response(201, PassageRead)
    @blp.alt_response(200, schema=PassageRead, description="The vehicle is already at the gate on this pass.")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """A vehicle is read at a gate: the passage with its lane and what is still needed."""
        with db.transaction() as session:
            arrived = arrival.arrive(session, operator=current_user(), **payload)
        return arrived.passage, 201 if arrived.created else 200


@blp.route("/gate/passages")
class Passages(MethodView):
    @require_role(*GATE_STAFF)
    @blp.arguments(PassageQuery, location="query")
    @blp.response(200, PassagePage)
    def get(self, query):
        """List passages, newest first."""
        with db.transaction() as session:
            return passage.list_passages(session, **query)


@blp.route("/gate/passages/<int:passage_id>")
class PassageById(MethodView):
    @require_role(*GATE_STAFF)
    @blp.response(200, PassageRead)
    def get(self, passage_id):
        """Read a passage."""
        with db.transaction() as session:
            return passage.get_passage(session, passage_id)


@blp.route("/gate/passages/<int:passage_id>/weight")
class PassageWeight(MethodView):
    @require_role(Role.GATE_OPERATOR)
    @idempotent
    @blp.arguments(WeightCreate)
    @blp.response(200, PassageRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, passage_id):
        """The weighbridge reading: clears the vehicle automatically or refers it with every reason."""
        tolerance = rules.current().gate_weight_tolerance_percent
        with db.transaction() as session:
            weighed = weighing.weigh(session, passage_id, tolerance_percent=tolerance, **payload)
            # An export container cleared here has left the zone: the port gets its record (zone–port linkage).
            export_release.leave_zone_when_passed(session, weighed.gate_pass, reporter=current_user())
            return weighed


@blp.route("/gate/passages/<int:passage_id>/decision")
class PassageDecision(MethodView):
    @require_role(*DECIDERS)
    @idempotent
    @blp.arguments(DecisionCreate)
    @blp.response(200, PassageRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, passage_id):
        """Clear, turn back or send to inspection a referred vehicle, with a reason code."""
        with db.transaction() as session:
            return gate_passing.decide(session, passage_id, decider=current_user(), actor=current_actor(), **payload)


@blp.route("/gate/figures")
class GateFigures(MethodView):
    @require_role(Role.CUSTOMS_OFFICER, Role.ADMIN)
    @blp.arguments(FiguresQuery, location="query")
    @blp.response(200, GateFiguresRead)
    def get(self, query):
        """Per gate and lane over a date range: vehicles/hour, decision time, auto-cleared share, referrals."""
        with db.transaction() as session:
            return figures.gate_figures(session, **query)
