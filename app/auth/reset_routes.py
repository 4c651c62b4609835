"""Forgotten password: ask for a code by text message, then set a new password with it (no sign-in)."""

from __future__ import annotations

import logging

from flask import Response, after_this_request, current_app
from flask.views import MethodView

from app import db
from app.auth import reset
from app.auth.account_schemas import PasswordResetAccepted, PasswordResetConfirm, PasswordResetRequest
from app.auth.guards import client_address
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.infra.ratelimit import limiter, per_client
from app.push.base import Sent
from app.push.settings import PushSettings
from app.push.sms import SmsGateway, build_sms_gateway

log = logging.getLogger(__name__)

blp = Blueprint(
    "password_reset",
    __name__,
    url_prefix="/api/v1/auth/password-reset",
    description="A forgotten password, reset with a code texted to the account's phone.",
)

ACCEPTED = "If the login names an account with a mobile number, a code is on its way; it is valid for 10 minutes."
SMS_GATEWAY = "sms_gateway"


# No Idempotency-Key on either: there is no signed-in user to key by, and a repeat is harmless (another code, or
# the same refusal).
@blp.route("")
class PasswordResets(MethodView):
    @per_client("PASSWORD_RESET_RATE_LIMIT", scope="password-reset")
    @blp.arguments(PasswordResetRequest)
    @blp.response(202, PasswordResetAccepted)
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, payload):
        """Text a reset code to the phone on the account; the answer is the same whether or not one exists."""
        with db.transaction() as session:
            outgoing = reset.request_reset(
                session,
                login=payload["login"],
                client_addr=client_address(),
                settings=current_settings(),
                limiter=limiter(),
            )
        if outgoing is not None:
            _text_after_answer(outgoing)
        return {"detail": ACCEPTED}


@blp.route("/confirm")
class PasswordResetConfirmation(MethodView):
    @per_client("PASSWORD_RESET_RATE_LIMIT", scope="password-reset-confirm")
    @blp.arguments(PasswordResetConfirm)
    @blp.response(204)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, payload):
        """Set a new password with the texted code; every sign-in of the account ends."""
        with db.transaction() as session:
            reset.confirm_reset(session, client_addr=client_address(), settings=current_settings(), **payload)


def _text_after_answer(outgoing: reset.ResetText) -> None:
    """Send once the answer has gone out: how long the gateway takes must not tell that the account exists."""
    gateway = _sms_gateway()
    if gateway is None:
        log.warning("No SMS gateway is configured; the reset code for user %s was not sent", outgoing.user_id)
        return

    @after_this_request
    def send_on_close(response: Response) -> Response:
        pending = [outgoing]

        def send() -> None:
            # Layers that wrap the body may each close it: text once.
            if not pending:
                return
            pending.clear()
            try:
                outcome = gateway.send(outgoing.phone, outgoing.text)
            except Exception:
                log.exception("Sending the reset code for user %s failed", outgoing.user_id)
                return
            if not isinstance(outcome, Sent):
                log.warning("The reset code for user %s was not sent: %s", outgoing.user_id, outcome)

        response.call_on_close(send)
        return response


def _sms_gateway() -> SmsGateway | None:
    """The dispatcher's SMS gateway settings, read once per process."""
    if SMS_GATEWAY not in current_app.extensions:
        current_app.extensions[SMS_GATEWAY] = build_sms_gateway(PushSettings.from_env())
    return current_app.extensions[SMS_GATEWAY]
