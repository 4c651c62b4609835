"""Listing, changing and resetting the run-time rules; every change is audited with its old and new value.

Callers that act on a rule read it through `app.rules.cache.current()`; after committing a change here the
caller calls `cache.forget()`, so its own process sees the change at once (others within the cache's ttl).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.config import Settings
from app.errors import InvalidInput, NotFound
from app.i18n import _
from app.rules.catalog import BY_KEY, RULES, Rule, RuleValues, as_text, overrides_of, parse, values_of
from app.rules.models import RuleSetting


@dataclass(frozen=True)
class RuleView:
    """A rule as an admin sees it: its value in force, its default, bounds and who last changed it."""

    key: str
    label: str
    help: str
    unit: str
    kind: str
    value: str
    default: str
    minimum: str
    maximum: str
    overridden: bool
    updated_by: str | None
    updated_at: datetime | None


def list_rules(session: Session, *, settings: Settings) -> list[RuleView]:
    """Every rule in catalog order, with its value in force."""
    rows = {row.key: row for row in session.scalars(select(RuleSetting))}
    return [_view(rule, rows.get(rule.key), settings) for rule in RULES]


def values_in_force(session: Session, *, settings: Settings) -> RuleValues:
    """The rules in force read through `session`, for work outside a request (the demo's seed); others use the cache."""
    return values_of(settings, overrides_of(session.execute(select(RuleSetting.key, RuleSetting.value)).all()))


def get_rule(session: Session, key: str, *, settings: Settings) -> RuleView:
    """One rule; NotFound for a key the catalog does not name."""
    return _view(_rule(key), session.get(RuleSetting, key), settings)


def set_rule(session: Session, key: str, *, value: Decimal, actor: Actor, settings: Settings) -> RuleView:
    """Override a rule's default with `value`, within the rule's bounds."""
    rule = _rule(key)
    _check(rule, value)
    row = session.get(RuleSetting, key)
    before = _in_force(rule, row, settings)
    text = as_text(value)
    # Setting the default's own value still pins it (a later change of the environment no longer moves it): audited.
    pinned = row is None
    if row is None:
        row = RuleSetting(key=key, value=text)
        session.add(row)
    row.value, row.updated_by, row.updated_at = text, actor.user, clock.utcnow()
    session.flush()
    if pinned or before != text:
        audit.record(
            session,
            action="admin.rule_changed",
            actor=actor,
            target_type="rule_settings",
            target_id=key,
            details={"value": {"from": before, "to": text}},
        )
    return _view(rule, row, settings)


def reset_rule(session: Session, key: str, *, actor: Actor, settings: Settings) -> RuleView:
    """Drop a rule's override: its default from the environment applies again."""
    rule = _rule(key)
    row = session.get(RuleSetting, key)
    if row is not None:
        before = _in_force(rule, row, settings)
        session.delete(row)
        session.flush()
        after = as_text(rule.default(settings))
        audit.record(
            session,
            action="admin.rule_reset",
            actor=actor,
            target_type="rule_settings",
            target_id=key,
            details={"value": {"from": before, "to": after}},
        )
    return _view(rule, None, settings)


def _rule(key: str) -> Rule:
    rule = BY_KEY.get(key)
    if rule is None:
        raise NotFound(_("There is no rule %(key)s.", key=repr(key)))
    return rule


def _check(rule: Rule, value: Decimal) -> None:
    if not value.is_finite():
        raise InvalidInput.of_field("value", _("Must be a number."))
    if not rule.minimum <= value <= rule.maximum:
        raise InvalidInput.of_field(
            "value",
            _(
                "Must be between %(minimum)s and %(maximum)s.",
                minimum=as_text(rule.minimum),
                maximum=as_text(rule.maximum),
            ),
        )
    if value != value.quantize(Decimal(1).scaleb(-rule.places)):
        if rule.places == 0:
            raise InvalidInput.of_field("value", _("Must be a whole number."))
        raise InvalidInput.of_field("value", _("At most %(places)s decimal places.", places=rule.places))


def _in_force(rule: Rule, row: RuleSetting | None, settings: Settings) -> str:
    stored = parse(row.value) if row is not None else None
    return as_text(stored if stored is not None else rule.default(settings))


def _view(rule: Rule, row: RuleSetting | None, settings: Settings) -> RuleView:
    return RuleView(
        key=rule.key,
        label=str(rule.label),
        help=str(rule.help),
        unit=rule.unit,
        kind=rule.kind,
        value=_in_force(rule, row, settings),
        default=as_text(rule.default(settings)),
        minimum=as_text(rule.minimum),
        maximum=as_text(rule.maximum),
        overridden=row is not None,
        updated_by=row.updated_by.username if row is not None and row.updated_by is not None else None,
        updated_at=row.updated_at if row is not None else None,
    )
