"""The public "report a suspected fake" endpoint behind the trace page's form, and the page's template helpers."""

from __future__ import annotations

from flask import Response, current_app, render_template, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app import db
from app.common.blueprint import Blueprint
from app.common.fields import String
from app.config import current_settings
from app.i18n import _, in_locale
from app.infra.ratelimit import per_client
from app.rules import cache as rules
from app.trace import page, reports
from app.trace.digital_link import BadDigitalLink
from app.trace.lookup import look_up, truncate_address
from app.trace.verdicts import barcode_of, clone_rules, language, reported_code, wanted

blp = Blueprint(
    "trace_page",
    __name__,
    description="Shoppers' reports of suspected fakes from the trace page (public, at the trace host's root).",
    template_folder="templates",
)


blp.app_template_filter("country")(page.country_name)
blp.app_context_processor(page.park)


class ReportForm(Schema):
    code = String(
        required=True, validate=validate.Length(max=200), metadata={"description": "The Digital Link path after /01/"}
    )
    token = String(required=True, validate=validate.Length(max=200))
    problem = fields.Enum(reports.Problem, by_value=True, required=True)
    text = String(load_default="", validate=validate.Length(max=500))
    phone = String(load_default=None, validate=validate.Length(max=20))
    barcode = String(load_default=None, validate=validate.Length(max=14))


class ReportRead(Schema):
    reference = String(required=True)
    phone = String(allow_none=True, metadata={"description": "The phone given, masked"})


@blp.route("/trace-reports")
class SuspectedFakes(MethodView):
    @per_client("TRACE_REPORT_RATE_LIMIT", scope="trace-report")
    @blp.arguments(ReportForm, location="form")
    @blp.doc(
        responses={
            "200": {
                "description": "The thank-you page (HTML), or the report's reference and the phone masked (JSON)",
                "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"schema": ReportRead}},
            },
            "429": "TOO_MANY_REQUESTS",
        }
    )
    def post(self, form):
        """Report a suspected fake from the trace page (a plain form POST; idempotent by the form's token)."""
        lang = language()
        with in_locale(lang):
            serial, gtin, lot = reported_code(form["code"])
            if serial is None:
                raise BadDigitalLink(_("The report names no trace code (/21/ serial)."))
            secret = current_settings().jwt_secret or ""
            nonce = reports.check_token(secret, serial, form["token"])
            # The verdict again, uncounted: a report under a red card starts as a high warning.
            lookup = look_up(
                serial,
                gtin=gtin,
                barcode=barcode_of(form["barcode"]),
                client=None,
                rules=clone_rules(rules.current()),
                lot=lot,
            )
            with db.transaction() as session:
                report = reports.report_suspected_fake(
                    session,
                    serial=serial,
                    gtin=gtin,
                    verdict=lookup.verdict.value if lookup else "unknown",
                    declaration_id=lookup.declaration.id if lookup else None,
                    problem=form["problem"],
                    text=form["text"].strip(),
                    phone=(form["phone"] or "").strip() or None,
                    nonce=nonce,
                    network=truncate_address(request.remote_addr),
                )
            if wanted("text/html", "application/json") == "application/json":
                return current_app.json.response({"reference": report.reference, "phone": report.masked_phone})
            body = render_template(
                "trace/reported.html", lang=lang, report=report, code=form["code"], **page.words(lang)
            )
        response = Response(body, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response
