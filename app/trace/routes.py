"""The staff API of trace codes: issuing batches, status changes, labels, downloads, the EPCIS export and capture."""

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Response, current_app, request
from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.idempotency.guards import idempotent
from app.infra.ratelimit import public_lookup
from app.trace import chain, epcis, issuing, labels, lifecycle, verdicts
from app.trace.schemas import (
    BatchCodeQuery,
    BatchRead,
    CaptureHeaders,
    CaptureRead,
    IssuedRead,
    IssueQuery,
    SheetQuery,
    StatusChange,
    StatusChangeRead,
    TraceCodeIssue,
    TraceCodePage,
    TraceCodeRead,
    VerdictRead,
    VerifyCreate,
    load_epcis_document,
)
from app.users.models import Role

blp = Blueprint("trace", __name__, url_prefix="/api/v1", description="Trace codes (溯源码) and their QR labels.")

STAFF = (Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN)
CSV_MEDIA_TYPE = "text/csv"
EPCIS_MEDIA_TYPE = "application/ld+json"
IMAGE = {"schema": {"type": "string", "format": "binary"}}
SVG = {"schema": {"type": "string"}}
# Documented, not wrapped: each alt_response wraps the view in a call of its own on the hottest public route.
PUBLIC_LOOKUP_ERRORS = {"404": "NOT_FOUND", "429": "TOO_MANY_REQUESTS"}


def _csv(rows: Iterable[tuple[str, str, str | None]], *, filename: str) -> Response:
    """Codes as CSV (serial, gtin, lot, url) streamed row by row, for label printers."""
    host = current_settings().trace_host

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["serial", "gtin", "lot", "url"])
        for serial, gtin, lot in rows:
            writer.writerow([serial, gtin, lot or "", issuing.code_url(host, gtin, serial, lot)])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    # No request context while the body streams: `rows` reads in transactions of its own (stream_batch_codes).
    response = Response(generate(), mimetype=CSV_MEDIA_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _wants_csv(query_format: str | None) -> bool:
    if query_format is not None:
        return query_format == "csv"
    return request.accept_mimetypes.best_match(["application/json", CSV_MEDIA_TYPE]) == CSV_MEDIA_TYPE


@blp.route("/trace-codes")
class TraceCodes(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR)
    @idempotent
    @blp.arguments(IssueQuery, location="query")
    @blp.arguments(TraceCodeIssue)
    @blp.response(201, IssuedRead, content_type="application/json")
    @blp.doc(responses={"201": {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}})
    @blp.alt_response(409, response="CONFLICT")
    def post(self, query, payload):
        """Issue trace codes for a goods line of a declaration your warehouse holds (CSV with Accept: text/csv)."""
        with db.transaction() as session:
            issued = issuing.issue_trace_codes(session, operator=current_user(), **payload)
        batch = issued.batch
        if _wants_csv(query["format"]):
            response = _csv(
                ((serial, batch.gtin, batch.lot) for serial in issued.serials), filename=f"trace-codes-{batch.id}.csv"
            )
            response.status_code = 201
            return response
        return {"batch": batch, "codes": issued.codes}


@blp.route("/trace-codes/status")
class TraceCodeStatusChanges(MethodView):
    @require_role(*STAFF)
    @idempotent
    @blp.arguments(StatusChange)
    @blp.response(200, StatusChangeRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Mark codes affixed, sold or void (warehouse), or recalled (customs, admin); audited."""
        with db.transaction() as session:
            changed = lifecycle.change_status(session, user=current_user(), actor=current_actor(), **payload)
        return {"status": payload["status"], "changed": changed}


@blp.route("/trace-codes/<string:serial>")
class TraceCodeBySerial(MethodView):
    @require_role(*STAFF)
    @blp.response(200, TraceCodeRead)
    def get(self, serial):
        """Read one trace code."""
        with db.transaction() as session:
            return issuing.get_code_for(session, serial, viewer=current_user())


@blp.route("/trace-codes/<string:serial>/qr.png")
class TraceCodePng(MethodView):
    @require_role(*STAFF)
    @blp.doc(responses={"200": {"description": "The label", "content": {"image/png": IMAGE}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, serial):
        """The code's QR label as PNG, the serial printed under it."""
        label = issuing.label_facts_for(serial, viewer=current_user())
        url = issuing.code_url(current_settings().trace_host, label.gtin, label.serial, label.lot)
        return Response(labels.png(url, label.serial), mimetype="image/png")


@blp.route("/trace-codes/<string:serial>/qr.svg")
class TraceCodeSvg(MethodView):
    @require_role(*STAFF)
    @blp.doc(responses={"200": {"description": "The label", "content": {"image/svg+xml": SVG}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, serial):
        """The code's QR label as SVG, the serial printed under it."""
        label = issuing.label_facts_for(serial, viewer=current_user())
        url = issuing.code_url(current_settings().trace_host, label.gtin, label.serial, label.lot)
        return Response(labels.svg(url, label.serial), mimetype="image/svg+xml")


@blp.route("/trace-codes/<string:serial>/epcis")
class TraceCodeEpcis(MethodView):
    @require_role(*STAFF)
    @blp.doc(
        responses={
            "200": {
                "description": "An EPCIS 2.0 EPCISDocument of ObjectEvents",
                "content": {EPCIS_MEDIA_TYPE: {"schema": {"type": "object"}}},
            }
        }
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, serial):
        """The code's chain as an EPCIS 2.0 document: commissioning, then each clearance step (CBV terms)."""
        with db.transaction() as session:
            history = chain.history_for(session, serial, viewer=current_user())
        response = current_app.json.response(epcis.document(history, host=current_settings().trace_host))
        response.mimetype = EPCIS_MEDIA_TYPE
        return response


@blp.route("/trace-code-batches/<int:batch_id>")
class BatchById(MethodView):
    @require_role(*STAFF)
    @blp.response(200, BatchRead)
    def get(self, batch_id):
        """Read a batch of issued codes."""
        with db.transaction() as session:
            return issuing.get_batch_for(session, batch_id, viewer=current_user())


@blp.route("/trace-code-batches/<int:batch_id>/codes")
class BatchCodes(MethodView):
    @require_role(*STAFF)
    @blp.arguments(BatchCodeQuery, location="query")
    @blp.response(200, TraceCodePage)
    def get(self, query, batch_id):
        """A batch's codes with their status, newest first."""
        with db.transaction() as session:
            return issuing.list_batch_codes(session, batch_id, viewer=current_user(), **query)


@blp.route("/trace-code-batches/<int:batch_id>/codes.csv")
class BatchCodesCsv(MethodView):
    @require_role(*STAFF)
    @blp.doc(responses={"200": {"description": "serial,gtin,lot,url", "content": {CSV_MEDIA_TYPE: SVG}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, batch_id):
        """Every code of a batch as CSV for a label printer, streamed in issuing order."""
        with db.transaction() as session:
            batch = issuing.get_batch_for(session, batch_id, viewer=current_user())
        codes = issuing.stream_batch_codes(db.session_factory(), batch)
        return _csv(codes, filename=f"trace-codes-{batch.id}.csv")


@blp.route("/trace-code-batches/<int:batch_id>/labels.svg")
class BatchLabelSheet(MethodView):
    @require_role(*STAFF)
    @blp.arguments(SheetQuery, location="query")
    @blp.doc(responses={"200": {"description": "A sheet of labels", "content": {"image/svg+xml": SVG}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query, batch_id):
        """One sheet of a batch's QR labels (page by page, in issuing order), the serial under each."""
        with db.transaction() as session:
            codes = issuing.sheet_codes(session, batch_id, viewer=current_user(), **query)
        host = current_settings().trace_host
        sheet = labels.svg_sheet(
            (issuing.code_url(host, code.gtin, code.serial, code.lot), code.serial) for code in codes
        )
        return Response(sheet, mimetype="image/svg+xml")


@blp.route("/trace/verify")
class Verify(MethodView):
    # No Idempotency-Key: public and anonymous (keys belong to a signed-in user); a retried check is another scan.
    @public_lookup
    @blp.arguments(VerifyCreate)
    @blp.response(200, VerdictRead)
    @blp.doc(responses=PUBLIC_LOOKUP_ERRORS)
    def post(self, payload):
        """Public: check a scanned trace code, and the product barcode beside it (dual-code check)."""
        return verdicts.verify(payload["code"], barcode=payload["barcode"])


@blp.route("/trace/codes/<string:serial>")
class PublicCode(MethodView):
    @public_lookup
    @blp.response(200, VerdictRead)
    @blp.doc(responses=PUBLIC_LOOKUP_ERRORS)
    def get(self, serial):
        """Public: a code's verdict and customs chain (the gs1:traceability link of the resolver)."""
        return verdicts.public_code(serial)


_EPCIS_BODY = {
    "required": True,
    "description": f"An EPCIS 2.0 EPCISDocument, up to {epcis.MAX_EVENTS} events; an event without an eventID is "
    "stored under its CBV 2.0 event hash.",
    "content": {
        media_type: {"schema": {"type": "object"}} for media_type in ("application/ld+json", "application/json")
    },
}


@blp.route("/epcis/capture")
class EpcisCapture(MethodView):
    @require_role(Role.CUSTOMS_OFFICER, Role.ADMIN, Role.WAREHOUSE_OPERATOR)
    @idempotent
    @blp.arguments(CaptureHeaders, location="headers")
    @blp.doc(requestBody=_EPCIS_BODY)
    @blp.response(201, CaptureRead)
    @blp.alt_response(200, schema=CaptureRead, description="Nothing new: every event was captured before")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, headers):
        """Capture partners' EPCIS 2.0 events (officers, admins; a warehouse for its own codes), once each by eventID.

        The events then join the chain of every trace code they name (epcList, childEPCs, input/output lists as SGTIN
        URNs or Digital Link URIs; quantity lists by lot).
        """
        document = load_epcis_document(request.get_data(cache=False), request.mimetype)
        with db.transaction() as session:
            report = epcis.capture(
                session,
                document,
                user=current_user(),
                actor=current_actor(),
                proceed=headers["error_behaviour"] == "proceed",
            )
        return report, 201 if report.captured else 200
