"""A shopper's "report a suspected fake" from the trace page: a risk warning for officers, never a public record.

The form carries a token the page signed for its code (HMAC over the serial, the time and a nonce): a POST from
another site has none, so the form needs no cookie to be safe from cross-site requests, and the token's nonce makes
the report idempotent (the same form sent twice is one report, answered with the same reference).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.i18n import _, _l
from app.risk import service as risk
from app.risk.models import Severity, WarningSource

# A form older than this is refused: a page left open overnight is looked at again before it reports.
TOKEN_SECONDS = 6 * 3600
# Reports kept on one warning (the newest); the occurrence count keeps counting past them.
KEPT_REPORTS = 20
# This many reports about one code make its warning high, so the officers on duty are told.
HIGH_AFTER = 3
PHONE = re.compile(r"\+?[0-9][0-9 -]{5,18}[0-9]")


class Problem(enum.StrEnum):
    """What the shopper says is wrong."""

    PACKAGING = "packaging"  # looks or feels different from a genuine pack
    LABEL = "label"  # the trace label is damaged, reused or on other goods
    SELLER = "seller"  # the seller or the price is not right
    VERDICT = "verdict"  # the page said something was wrong
    OTHER = "other"


# Verdicts under which a report is not a shopper's hunch but a second sign: the warning starts high.
ALARMING = frozenset({"gtin_mismatch", "lot_mismatch", "unknown", "suspicious", "recalled", "void"})


class BadReportToken(InvalidInput):
    code, title = "bad_report_token", _l("The report form has expired or is not from this page")


@dataclass(frozen=True)
class Report:
    reference: str
    masked_phone: str | None


def _sign(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def issue_token(secret: str, serial: str) -> str:
    """A token for the report form on `serial`'s page."""
    message = f"{serial}.{int(time.time())}.{secrets.token_urlsafe(9)}"
    return f"{message}.{_sign(secret, message)}"


def check_token(secret: str, serial: str, token: str) -> str:
    """The token's nonce if the page signed it for `serial` and it is fresh; else a 422."""
    message, _dot, signature = token.rpartition(".")
    parts = message.split(".")
    if len(parts) != 3 or not hmac.compare_digest(_sign(secret, message), signature) or parts[0] != serial:
        raise BadReportToken(_("Open the trace page again and send the report from there."))
    if not parts[1].isdigit() or time.time() - int(parts[1]) > TOKEN_SECONDS:
        raise BadReportToken(
            _("The form is more than six hours old: open the trace page again and send it from there.")
        )
    return parts[2]


def mask_phone(phone: str) -> str:
    """A phone number as it may be shown: the first three and last two digits (138******00)."""
    digits = re.sub(r"\D", "", phone)
    return digits[:3] + "*" * max(len(digits) - 5, 0) + digits[-2:]


def report_suspected_fake(
    session: Session,
    *,
    serial: str,
    gtin: str | None,
    verdict: str,
    declaration_id: int | None,
    problem: Problem,
    text: str,
    phone: str | None,
    nonce: str,
    network: str | None,
) -> Report:
    """Raise (or count on) the risk warning about a code's suspected fake; the same form twice is one report."""
    if phone is not None and not PHONE.fullmatch(phone):
        raise InvalidInput(_("Not a phone number."), errors={"form": {"phone": [_("Not a phone number.")]}})
    reference = "R" + hashlib.sha256(f"{serial}.{nonce}".encode()).hexdigest()[:10].upper()
    masked = mask_phone(phone) if phone else None
    subject_key = f"trace-report:{serial}"
    warning = risk.find_open_warning(session, subject_key, lock=True)
    reports = list((warning.details if warning else {}).get("reports", []))
    if any(report["reference"] == reference for report in reports):
        return Report(reference=reference, masked_phone=masked)
    reports = [
        *reports,
        # The phone reaches officers only, so that one of them can call back; the shopper sees it masked.
        {"reference": reference, "problem": problem.value, "text": text, "phone": phone, "network": network},
    ][-KEPT_REPORTS:]
    count = (warning.occurrences if warning else 0) + 1
    high = verdict in ALARMING or count >= HIGH_AFTER
    risk.raise_warning(
        session,
        source=WarningSource.TRACE,
        subject_key=subject_key,
        severity=Severity.HIGH if high else Severity.MEDIUM,
        title=f"消费者举报疑似假冒：溯源码 {serial}",
        details={"serial": serial, "gtin": gtin, "verdict": verdict, "reports": reports},
        declaration_id=declaration_id,
    )
    return Report(reference=reference, masked_phone=masked)
