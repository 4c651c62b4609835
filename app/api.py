"""The flask-smorest Api: one error shape, offline docs, and the list of blueprints."""

from __future__ import annotations

import http
from typing import Any

import flask
import flask_smorest
from flask import Flask, send_from_directory
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException

from app import errors
from app.common.fields import DecimalString, Integer, String
from app.common.requests import IdConverter, Int32Converter, refuse_control_characters_in_path

API_PREFIX = "/api/v1"
DOCS_ASSETS_PATH = f"{API_PREFIX}/docs/assets/"


class ProblemSchema(Schema):
    """RFC 9457 problem details with our stable `code` extension."""

    type = String(required=True, metadata={"description": "URI naming the problem type."})
    title = String(required=True)
    status = Integer(required=True)
    detail = String(required=True, metadata={"description": "What went wrong, for a person."})
    instance = String(metadata={"description": "The request path."})
    code = String(required=True, metadata={"description": "Stable machine-readable code."})
    errors = fields.Dict(
        metadata={"description": 'Per-field messages grouped by location, e.g. {"json": {"gtin": ["..."]}}.'}
    )
    request_id = String(
        metadata={"description": "The request's id, as in the X-Request-Id response header and the service's logs."}
    )


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return errors.render_http_exception(error)

    def _register_responses(self) -> None:
        # flask-smorest documents errors as application/json; ours are problem+json.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, errors.PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, errors.PROBLEM_MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": "Smart Park API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": API_PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS_PATH,
        "API_SPEC_OPTIONS": {
            "info": {
                "description": (
                    "Backend of the smart bonded park: declarations, notices, trace codes and gates.\n\n"
                    "Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`; "
                    "the codes are listed under `x-problem-codes`."
                )
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    # Machine accounts only; 'Authorization: ApiKey <key>' is accepted as well.
                    "apiKeyAuth": {
                        "type": "apiKey",
                        "in": "header",
                        "name": "X-API-Key",
                        "description": "A machine account's API key (admins issue them under "
                        "/api/v1/admin/users/{user_id}/api-keys); also accepted as 'Authorization: ApiKey <key>'.",
                    },
                }
            },
        },
    }


def problem_codes() -> dict[str, str]:
    """Every stable error code with its title, for the OpenAPI document."""
    codes = {code: http.HTTPStatus(status).phrase for status, code in errors.HTTP_CODES.items()}
    codes["malformed_request"] = "Request body could not be parsed"
    codes.update({code: str(cls.title) for code, cls in errors.DomainError.registry.items()})
    return dict(sorted(codes.items()))


def decimal_pattern(self: Any, field: Any, **_kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: a decimal's pattern, as it travels ("409.00")."""
    return {"pattern": field.pattern()} if isinstance(field, DecimalString) else {}


docs_assets = flask.Blueprint("docs_assets", __name__)


@docs_assets.get(f"{DOCS_ASSETS_PATH}<path:filename>")
def docs_asset(filename: str) -> Any:
    """Swagger UI's own files, served locally because the park's network may have no internet."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def register_blueprints(app: Flask, api: Api) -> None:
    from app.attachments.routes import blp as attachments_blp
    from app.audit.routes import blp as audit_blp
    from app.audit.routes import verify_blp as audit_verify_blp
    from app.auth.key_routes import blp as api_keys_blp
    from app.auth.reset_routes import blp as password_reset_blp
    from app.auth.routes import blp as auth_blp
    from app.auth.session_routes import blp as my_sessions_blp
    from app.auth.user_routes import admin_blp as admin_users_blp
    from app.auth.user_routes import me_blp
    from app.bonded_lists.routes import blp as bonded_lists_blp
    from app.clearance.routes import blp as clearance_blp
    from app.customs.routes import blp as customs_blp
    from app.declarations.routes import blp as declarations_blp
    from app.devices.routes import blp as devices_blp
    from app.enterprises.routes import admin_blp as admin_enterprises_blp
    from app.enterprises.routes import blp as enterprises_blp
    from app.exports.figures_routes import blp as export_figures_blp
    from app.exports.loading_routes import blp as export_loading_blp
    from app.exports.routes import blp as exports_blp
    from app.exports.zone_routes import blp as export_zone_blp
    from app.gates.routes import blp as gates_blp
    from app.goods.routes import blp as goods_blp
    from app.health.routes import blp as health_blp
    from app.home.routes import blp as home_blp
    from app.inspections.routes import blp as inspections_blp
    from app.notices.routes import blp as notices_blp
    from app.notices.settings_routes import blp as notification_settings_blp
    from app.risk.routes import blp as risk_blp
    from app.rules.routes import blp as rules_blp
    from app.stock.routes import blp as stock_blp
    from app.sync.routes import blp as sync_blp
    from app.trace.report_routes import blp as trace_page_blp
    from app.trace.resolver import blp as resolver_blp
    from app.trace.routes import blp as trace_blp

    # Before any rule is added: rules take their converters when they are added.
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["int32"] = Int32Converter
    app.url_value_preprocessor(refuse_control_characters_in_path)
    api.ma_plugin.map_to_openapi_type(DecimalString, "string", "decimal")
    api.ma_plugin.converter.add_attribute_function(decimal_pattern)
    app.register_blueprint(docs_assets)
    app.register_blueprint(health_blp)
    for blueprint in (
        auth_blp,
        password_reset_blp,
        me_blp,
        my_sessions_blp,
        notification_settings_blp,
        home_blp,
        enterprises_blp,
        admin_users_blp,
        api_keys_blp,
        admin_enterprises_blp,
        audit_blp,
        audit_verify_blp,
        rules_blp,
        declarations_blp,
        exports_blp,
        export_zone_blp,
        export_figures_blp,
        export_loading_blp,
        clearance_blp,
        customs_blp,
        bonded_lists_blp,
        inspections_blp,
        attachments_blp,
        notices_blp,
        devices_blp,
        gates_blp,
        risk_blp,
        goods_blp,
        stock_blp,
        sync_blp,
        trace_blp,
        resolver_blp,
        trace_page_blp,
    ):
        api.register_blueprint(blueprint)
    api.spec.options["x-problem-codes"] = problem_codes()
