"""A user's notification settings, and what they mean for a push: now, after quiet hours, or never.

Settings govern pushes only: every notice is still stored, streamed and caught up, so the app shows it the next time
it is opened. Two rules hold whatever the user chose:
- ALWAYS_PUSHED kinds (inspection, release, a held vehicle) cannot be switched off and ignore quiet hours: someone
  must act on them, often within the hour.
- A push held back by quiet hours is delivered when they end (its delivery row waits until then), unless the app
  acknowledged the notice meanwhile: the outbox skips a push for a notice the app already has, as it does for any.
  Quiet hours are read when the notice is queued; changing them later does not move pushes already waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.i18n import _
from app.infra.statements import cached_statement
from app.notices import on_duty_cache
from app.notices.models import DEFAULT_TIME_ZONE, NoticeKind, NoticePriority, NotificationSettings
from app.users.models import Role, User

ALWAYS_PUSHED = frozenset(
    {
        NoticeKind.INSPECTION_ISSUED,
        NoticeKind.INSPECTION_SCHEDULED,
        NoticeKind.INSPECTION_RESULT,
        NoticeKind.DECLARATION_RELEASED,
        NoticeKind.GATE_REFERRED,
        NoticeKind.GATE_HELD,
        NoticeKind.OFFICER_VEHICLE_HELD,
    }
)


def get_settings(session: Session, *, user: User) -> NotificationSettings:
    """The user's settings, or the defaults (not stored) when they never saved any."""
    found = session.get(NotificationSettings, user.id)
    return found if found is not None else _defaults(user)


def save_settings(
    session: Session,
    *,
    user: User,
    time_zone: str,
    quiet_hours: dict[str, time] | None,
    muted_kinds: list[NoticeKind],
    customs_code: str | None = None,
) -> NotificationSettings:
    """Replace the user's settings; kinds that are always pushed cannot be muted."""
    problems: dict[str, list[str]] = {}
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems["time_zone"] = ["Not a known IANA time zone, e.g. Asia/Shanghai."]
    if quiet_hours is not None and quiet_hours["start"] == quiet_hours["end"]:
        problems["quiet_hours"] = ["Start and end must differ."]
    always = sorted(kind.value for kind in set(muted_kinds) & ALWAYS_PUSHED)
    if always:
        problems["muted_kinds"] = [_("Always pushed, cannot be switched off: %(kinds)s.", kinds=", ".join(always))]
    if customs_code is not None and user.role is not Role.CUSTOMS_OFFICER:
        problems["customs_code"] = ["Only customs officers name the office whose alerts they take."]
    if problems:
        raise InvalidInput(_("The notification settings are not valid; see errors."), errors={"json": problems})
    settings = session.get(NotificationSettings, user.id)
    if settings is None:
        settings = NotificationSettings(user_id=user.id)
        session.add(settings)
    settings.time_zone = time_zone
    settings.quiet_start = quiet_hours["start"] if quiet_hours else None
    settings.quiet_end = quiet_hours["end"] if quiet_hours else None
    settings.muted_kinds = sorted({kind.value for kind in muted_kinds})
    settings.customs_code = customs_code
    session.flush()
    # The office an officer takes alerts for, or their quiet hours, may have changed: this process reads anew.
    on_duty_cache.forget()
    return settings


@dataclass(frozen=True)
class PushRules:
    """What a push needs of a user's saved settings: a plain value, kept per transaction or by a process's cache."""

    time_zone: str
    quiet_start: time | None
    quiet_end: time | None
    muted_kinds: tuple[str, ...]


# The columns a PushRules is made of, for a query that reads them beside the recipients (outer-joined: all NULL
# for a user who never saved settings).
RULE_COLUMNS = (
    NotificationSettings.time_zone,
    NotificationSettings.quiet_start,
    NotificationSettings.quiet_end,
    NotificationSettings.muted_kinds,
)


def rules_from(time_zone: str | None, quiet_start: Any, quiet_end: Any, muted_kinds: Any) -> PushRules | None:
    """The rules of a row of RULE_COLUMNS, or None for a user without saved settings (time_zone is never NULL)."""
    if time_zone is None:
        return None
    return PushRules(time_zone, quiet_start, quiet_end, tuple(muted_kinds or ()))


def settings_for(session: Session, user_ids: set[int]) -> dict[int, PushRules]:
    """The saved push rules of these users, read once per transaction (a receipt batch queues many pushes)."""
    cache: dict[Any, PushRules | None] = session.info.setdefault("notification_settings", {})
    transaction = session.get_transaction()
    wanted = sorted(user_id for user_id in user_ids if (transaction, user_id) not in cache)
    if wanted:
        found = {
            user_id: rules_from(*columns)
            for user_id, *columns in session.execute(_rules_statement(), {"user_ids": wanted})
        }
        for user_id in wanted:
            cache[(transaction, user_id)] = found.get(user_id)
    return {user_id: rules for user_id in user_ids if (rules := cache[(transaction, user_id)]) is not None}


def remember_rules(session: Session, rules: dict[int, PushRules | None]) -> None:
    """Rules the caller read with its recipients (RULE_COLUMNS): `settings_for` in this transaction reads none."""
    cache: dict[Any, PushRules | None] = session.info.setdefault("notification_settings", {})
    transaction = session.get_transaction()
    for user_id, found in rules.items():
        cache[(transaction, user_id)] = found


@cached_statement
def _rules_statement() -> Select[Any]:
    return select(NotificationSettings.user_id, *RULE_COLUMNS).where(
        NotificationSettings.user_id.in_(bindparam("user_ids", expanding=True))
    )


def push_at(
    settings: PushRules | None, *, kind: NoticeKind, priority: NoticePriority, now: datetime
) -> datetime | None:
    """When a push of this notice should go out: `now`, the end of quiet hours, or None (switched off)."""
    if settings is None or kind in ALWAYS_PUSHED or priority is NoticePriority.HIGH:
        return now
    if kind.value in settings.muted_kinds:
        return None
    return quiet_until(settings, now) or now


def quiet_until(settings: PushRules | NotificationSettings, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (UTC), or None outside them."""
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None:
        return None
    zone = ZoneInfo(settings.time_zone)
    local = now.astimezone(zone)
    clock_time = local.time().replace(tzinfo=None)
    if start < end:
        inside, ends_on = start <= clock_time < end, local.date()
    else:  # spans midnight: 22:00-07:00
        inside = clock_time >= start or clock_time < end
        ends_on = local.date() + timedelta(days=1) if clock_time >= start else local.date()
    if not inside:
        return None
    return datetime.combine(ends_on, end, tzinfo=zone).astimezone(UTC)


def _defaults(user: User) -> NotificationSettings:
    return NotificationSettings(
        user_id=user.id, time_zone=DEFAULT_TIME_ZONE, quiet_start=None, quiet_end=None, muted_kinds=[]
    )
