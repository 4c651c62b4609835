"""Telling the customs officers on duty what needs one of them now, through the declarants' notices and outbox.

"On duty" until a roster exists: there is none, so the rule is the simplest honest one. An officer may name the
customs office (关区代码) whose alerts they take, in their notification settings. An alert about a site or gate of
office X goes to the active officers who named X and to those who named none; if that is nobody (every officer
named another office), to every active officer, so no alert goes unheard. An alert whose office is unknown goes to
every active officer. Quiet hours and kinds switched off apply as for anyone (app/notices/settings.py), except a
held vehicle, which is always pushed.

Who is on duty, with their languages, devices and push rules, is one query, and every X-ray line divert asks it
(with the settings' own query that followed it, 3.2 ms of a divert's 14.7 ms in a cProfile of
`scripts/bench_line_cost.py --profile divert`, 2026-12-07). So each process keeps each office's answer for
`on_duty_cache.CACHE_SECONDS` (5 s) and believes it meanwhile. What that gives up, for up to those seconds, in a
worker other than the one where the change was made:
- an officer created, reactivated, or given a device since is not told (no notice, or no push to the new device);
  the notice of a later alert reaches them as usual;
- an officer disabled or locked since still gets the notice (stored, seen only if the account is enabled again);
- settings saved in another worker (the office named, quiet hours, kinds muted) apply a few seconds late; the worker
  that saved them forgets its lists at once (`on_duty_cache.forget`; an alert read in it while the save had not yet
  committed may keep the old list for the seconds again).
Tests forget the lists with each test's rollback (tests/conftest.py): the ids they name are handed out again.
No push goes where it must not: the dispatcher checks each push's device and user again when it sends it
(app/notices/outbox.py: a device removed, without permission or token, gone to another user, or a user disabled,
skips the push), as it must anyway for a push held back for quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from app.common import clock
from app.devices import service as devices
from app.devices.models import Device
from app.infra.statements import cached_statement
from app.notices import on_duty_cache
from app.notices.models import Notice, NoticeKind, NotificationSettings
from app.notices.service import Recipient, notify_recipients
from app.notices.settings import RULE_COLUMNS, PushRules, remember_rules, rules_from
from app.notices.text import Message
from app.users.models import Role, User


@dataclass(frozen=True)
class _OnDuty:
    """An office's officers as read: immutable, so greenlets and transactions may share it."""

    recipients: tuple[Recipient, ...]
    rules: tuple[tuple[int, PushRules | None], ...]


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
    """The officers an alert about `customs_code` goes to, with their devices: as this process read them in the
    last few seconds (see the module docstring), else read now; the same answer throughout a transaction."""
    in_transaction: dict[Any, _OnDuty] = session.info.setdefault("officers_on_duty", {})
    key = (session.get_transaction(), customs_code)
    on_duty = in_transaction.get(key)
    if on_duty is None:
        cache = on_duty_cache.cache()
        on_duty = cache.get(customs_code) if cache is not None else None
        if on_duty is None:
            # Not flushing what the caller added so far: it goes with the rest of its writes, in one flush.
            with session.no_autoflush:
                on_duty = _read(session, customs_code) if customs_code is not None else None
                if on_duty is None or not on_duty.recipients:
                    on_duty = _read(session, None)
            if cache is not None:
                cache.put(customs_code, on_duty)
        in_transaction[key] = on_duty
    # Their push rules as read with them: queuing the pushes reads no settings.
    remember_rules(session, dict(on_duty.rules))
    return list(on_duty.recipients)


def _read(session: Session, customs_code: str | None) -> _OnDuty:
    found: dict[int, tuple[Any, list[int]]] = {}
    rules: dict[int, PushRules | None] = {}
    parameters: dict[str, Any] = {"seen_since": devices.seen_since(clock.utcnow())}
    if customs_code is not None:
        parameters["customs_code"] = customs_code
    for user_id, language, device_id, *settings in session.execute(_statement(customs_code is not None), parameters):
        _language, device_ids = found.setdefault(user_id, (language, []))
        if device_id is not None:
            device_ids.append(device_id)
        rules[user_id] = rules_from(*settings)
    recipients = tuple(Recipient(user_id, language, tuple(ids)) for user_id, (language, ids) in found.items())
    return _OnDuty(recipients, tuple(rules.items()))


@cached_statement
def _statement(by_office: bool = False) -> Select[Any]:
    statement = (
        select(User.id, User.language, Device.id, *RULE_COLUMNS)
        .outerjoin(Device, and_(Device.user_id == User.id, *devices.deliverable(bindparam("seen_since"))))
        .outerjoin(NotificationSettings, NotificationSettings.user_id == User.id)
        .where(User.role == Role.CUSTOMS_OFFICER, User.is_active.is_(True), User.is_locked.is_(False))
        .order_by(User.id, Device.id)
    )
    if by_office:
        statement = statement.where(
            or_(
                NotificationSettings.customs_code.is_(None),
                NotificationSettings.customs_code == bindparam("customs_code"),
            )
        )
    return statement
