"""Telling the customs officers on duty what needs one of them now, through the declarants' notices and outbox.

"On duty" until a roster exists: there is none, so the rule is the simplest honest one. An officer may name the
customs office (关区代码) whose alerts they take, in their notification settings. An alert about a site or gate of
office X goes to the active officers who named X and to those who named none; if that is nobody (every officer
named another office), to every active officer, so no alert goes unheard. An alert whose office is unknown goes to
every active officer. Quiet hours and kinds switched off apply as for anyone (app/notices/settings.py), except a
held vehicle, which is always pushed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from app.common import clock
from app.devices import service as devices
from app.devices.models import Device
from app.infra.statements import cached_statement
from app.notices.models import Notice, NoticeKind, NotificationSettings
from app.notices.service import Recipient, notify_recipients
from app.notices.text import Message
from app.users.models import Language, Role, User


def notify_officers(
    session: Session,
    *,
    customs_code: str | None,
    kind: NoticeKind,
    title: Message,
    body: Message,
    source_key: str,
    declaration_id: int | None = None,
    link: str | None = None,
) -> list[Notice]:
    """One notice for each officer on duty for `customs_code` (see the module's rule), pushed like any notice."""
    return notify_recipients(
        session,
        officers_on_duty(session, customs_code),
        kind=kind,
        title=title,
        body=body,
        source_key=source_key,
        declaration_id=declaration_id,
        link=link,
    )


def officers_on_duty(session: Session, customs_code: str | None) -> list[Recipient]:
    """The officers an alert about `customs_code` goes to, with their devices; read once per transaction."""
    cache: dict[Any, list[Recipient]] = session.info.setdefault("officers_on_duty", {})
    key = (session.get_transaction(), customs_code)
    if key not in cache:
        recipients = _read(session, customs_code) if customs_code is not None else []
        cache[key] = recipients or _read(session, None)
    return cache[key]


def _read(session: Session, customs_code: str | None) -> list[Recipient]:
    found: dict[int, Recipient] = {}
    parameters: dict[str, Any] = {"seen_since": devices.seen_since(clock.utcnow())}
    if customs_code is not None:
        parameters["customs_code"] = customs_code
    rows = session.execute(_statement(customs_code is not None), parameters)
    for user_id, language, device in rows:
        recipient = found.setdefault(user_id, Recipient(user_id, language, []))
        if device is not None:
            recipient.devices.append(device)
    return list(found.values())


@cached_statement
def _statement(by_office: bool = False) -> Select[tuple[int, Language, Device]]:
    statement = (
        select(User.id, User.language, Device)
        .outerjoin(Device, and_(Device.user_id == User.id, *devices.deliverable(bindparam("seen_since"))))
        .where(User.role == Role.CUSTOMS_OFFICER, User.is_active.is_(True), User.is_locked.is_(False))
        .order_by(User.id, Device.id)
    )
    if by_office:
        statement = statement.outerjoin(NotificationSettings, NotificationSettings.user_id == User.id).where(
            or_(
                NotificationSettings.customs_code.is_(None),
                NotificationSettings.customs_code == bindparam("customs_code"),
            )
        )
    return statement
