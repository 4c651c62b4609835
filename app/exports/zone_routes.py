"""The zone's export steps for the handheld, the X-ray line and customs: scan-in, line scans, targeting (布控).

The line authenticates as a machine account of role `xray_line` (an API key an admin issues), belonging to the
in-zone warehouse the line stands in: it may post scans and nothing else, and sees only that warehouse's parcels.
"""

from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.exports import intake, line, targets
from app.exports.zone_schemas import (
    ExportLineAnswerRead,
    ExportLineBatchCreate,
    ExportLineBatchRead,
    ExportLineScanCreate,
    ExportScanInCreate,
    ExportScanInRead,
    ExportTargetCreate,
    ExportTargetPage,
    ExportTargetQuery,
    ExportTargetRead,
)
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "export_zone",
    __name__,
    url_prefix="/api/v1",
    description="The zone's export steps: seal check and scan-in, the X-ray line's pass/divert answers, and "
    "customs' targeting (布控) of export lists and waybills.",
)

_LINE_RULES = (
    " Divert when the machine flags the image, when a live target names the parcel's list or waybill, or when its "
    "list is not `released` (the status that allows loading); an unknown waybill, or a parcel never scanned in, is "
    "diverted too. A parcel released by an open-box recheck is not diverted again for the machine's doubt nor for a "
    "target older than its recheck. A parcel already diverted stays diverted until its recheck. Each scan is logged."
)


@blp.route("/export-scan-ins")
class ExportScanIns(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR)
    @idempotent
    @blp.arguments(ExportScanInCreate)
    @blp.response(200, ExportScanInRead)
    def post(self, payload):
        """Check an arriving vehicle's seal and scan its parcels into your warehouse (验封, 扫码入库).

        A broken seal stops it: nothing is scanned in (422 `seal_broken`) and customs gets a risk warning about the
        vehicle. Otherwise each declared parcel of your warehouse whose list customs has not rejected or cancelled
        is scanned in, and every waybill gets an outcome.
        """
        with db.transaction() as session:
            return intake.scan_in(session, operator=current_user(), **payload)


@blp.route("/export-line/scans")
class ExportLineScans(MethodView):
    @require_role(Role.XRAY_LINE)
    @idempotent
    @blp.arguments(ExportLineScanCreate)
    @blp.response(200, ExportLineAnswerRead)
    @blp.doc(description="The answer to one parcel's X-ray scan: pass, or divert to open-box recheck." + _LINE_RULES)
    def post(self, payload):
        """Scan one parcel on the X-ray line and get pass or divert at once."""
        with db.transaction() as session:
            return line.decide(session, line=current_user(), **payload)


@blp.route("/export-line/scan-batches")
class ExportLineScanBatches(MethodView):
    @require_role(Role.XRAY_LINE)
    @idempotent
    @blp.arguments(ExportLineBatchCreate)
    @blp.response(200, ExportLineBatchRead)
    @blp.doc(
        description="For a line controller that buffers: up to 500 scans, each answered as it would be alone, in "
        "order." + _LINE_RULES
    )
    def post(self, payload):
        """Send many X-ray scans at once and get each one's pass or divert."""
        with db.transaction() as session:
            return {"answers": line.decide_many(session, line=current_user(), scans=payload["scans"])}


@blp.route("/export-targets")
class ExportTargets(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @blp.arguments(ExportTargetQuery, location="query")
    @blp.response(200, ExportTargetPage)
    def get(self, query):
        """List targets on export lists and waybills, newest first: the live ones unless active=false."""
        with db.transaction() as session:
            return targets.list_targets(session, **query)

    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(ExportTargetCreate)
    @blp.response(201, ExportTargetRead)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Target an export list or a waybill (布控): the X-ray line diverts its parcels until it is lifted."""
        with db.transaction() as session:
            return targets.target(session, officer=current_user(), **payload)


@blp.route("/export-targets/<int:target_id>/lift")
class ExportTargetLift(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.response(200, ExportTargetRead)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, target_id):
        """Lift a target: the line stops diverting its parcels for it."""
        with db.transaction() as session:
            return targets.lift(session, target_id, officer=current_user())
