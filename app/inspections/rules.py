"""What every inspection use case agrees on: the statuses a task moves through, the limits on
slots, the labels people read and the errors the API answers with."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.audit.service import Actor
from app.declarations.models import DeclarationStatus
from app.errors import Conflict, DomainError, InvalidInput
from app.i18n import N_, _, _l
from app.inspections.models import Disposal, InspectionMethod, TaskStatus
from app.notices.service import Message

T = TaskStatus
SHANGHAI = ZoneInfo("Asia/Shanghai")
SYSTEM_ACTOR = Actor(user=None, client_addr=None)

# Customs has the list and has not finished with it: the statuses an inspection can start from.
INSPECTABLE = frozenset(
    {
        DeclarationStatus.ACCEPTED,
        DeclarationStatus.MANUAL_REVIEW,
        DeclarationStatus.AUDITED,
        DeclarationStatus.INSPECTION,
        DeclarationStatus.DETAINED,
    }
)
BOOKABLE = frozenset({T.NOTIFIED, T.APPOINTED})
HOLDS_A_PLACE = frozenset({T.APPOINTED, T.GOODS_READY})

MIN_SLOT_MINUTES = 15
MAX_SLOT_MINUTES = 24 * 60
MAX_SLOT_CAPACITY = 1000

METHOD_LABELS = {
    InspectionMethod.MACHINE: Message(N_("machine (X-ray) inspection")),
    InspectionMethod.OPEN_BOX: Message(N_("open-box inspection")),
    InspectionMethod.SEAL_CHECK: Message(N_("seal check")),
    InspectionMethod.DOCUMENT: Message(N_("document check")),
}
DISPOSAL_LABELS = {
    Disposal.RELEASE: Message(N_("release")),
    Disposal.AMEND: Message(N_("amend the declaration")),
    Disposal.TAX: Message(N_("pay additional duty")),
    Disposal.SHIP_BACK: Message(N_("ship back")),
    Disposal.DETAIN_TRANSFER: Message(N_("detain and transfer")),
}


class SlotFull(Conflict):
    code, title = "slot_full", _l("Inspection slot fully booked")


class SlotUnavailable(Conflict):
    code, title = "slot_unavailable", _l("Inspection slot cannot be booked")


class SiteCodeTaken(Conflict):
    code, title = "site_code_taken", _l("Inspection site code already registered")


class PhotoLimitReached(Conflict):
    code, title = "photo_limit_reached", _l("Too many photos for one inspection")


class UnsupportedPhoto(InvalidInput):
    code, title = "unsupported_photo", _l("Not a JPEG or PNG image")


class PhotoTooLarge(DomainError):
    status, code, title = 413, "photo_too_large", _l("Photo too large")


def check_window(since: datetime, until: datetime, longest: timedelta) -> None:
    """Refuse a query window that is empty, backwards or longer than `longest`."""
    if until <= since:
        raise InvalidInput.of_field("until", _("Must be after since."), location="query")
    if until - since > longest:
        raise InvalidInput.of_field(
            "until", _("The window may span at most %(describe)s.", describe=_describe(longest)), location="query"
        )


def _describe(span: timedelta) -> str:
    return f"{span.days} day{'s' if span.days != 1 else ''}"
