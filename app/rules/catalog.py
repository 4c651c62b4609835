"""The rules an admin may set at run time: each one's type, bounds, labels and its default from the environment.

A rule with no row in `rule_settings` takes its value from the settings (app/config.py), so the environment
variables that named these thresholds before keep working as the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from app.config import Settings
from app.i18n import _l


@dataclass(frozen=True)
class Rule:
    key: str
    label: object  # lazy strings, translated when shown
    help: object
    unit: str  # "percent", "hours" or "count"
    places: int  # decimal places allowed; 0 is a whole number
    minimum: Decimal
    maximum: Decimal
    default: Callable[[Settings], Decimal]

    @property
    def kind(self) -> str:
        return "integer" if self.places == 0 else "decimal"


def _hours(delta: timedelta) -> Decimal:
    return Decimal(int(delta.total_seconds() // 3600))


RULES: tuple[Rule, ...] = (
    Rule(
        key="gate_weight_tolerance_percent",
        label=_l("Weighbridge tolerance"),
        help=_l(
            "How far, in per cent, the weighbridge may differ from the declared goods plus tare before the vehicle "
            "is referred to a person."
        ),
        unit="percent",
        places=2,
        minimum=Decimal("0"),
        maximum=Decimal("20"),
        default=lambda settings: settings.gate_weight_tolerance_percent,
    ),
    Rule(
        key="gate_overdue_hours",
        label=_l("Hours before a released list is overdue"),
        help=_l("Released goods that have not passed a gate after this many hours raise a risk warning."),
        unit="hours",
        places=0,
        minimum=Decimal("1"),
        maximum=Decimal("720"),
        default=lambda settings: _hours(settings.gate_overdue),
    ),
    Rule(
        key="trace_scan_limit",
        label=_l("Lookups before a trace code is suspicious"),
        help=_l("A trace code looked up more often than this in all is treated as copied and raises a clone alarm."),
        unit="count",
        places=0,
        minimum=Decimal("1"),
        maximum=Decimal("1000000"),
        default=lambda settings: Decimal(settings.trace_scan_limit),
    ),
    Rule(
        key="trace_network_limit",
        label=_l("Networks before a trace code is suspicious"),
        help=_l("A trace code looked up from more /24 networks than this within the window raises a clone alarm."),
        unit="count",
        places=0,
        minimum=Decimal("1"),
        maximum=Decimal("100000"),
        default=lambda settings: Decimal(settings.trace_network_limit),
    ),
    Rule(
        key="trace_region_limit",
        label=_l("Regions before a trace code is suspicious"),
        help=_l("A trace code looked up from more regions than this within the window raises a clone alarm."),
        unit="count",
        places=0,
        minimum=Decimal("1"),
        maximum=Decimal("1000"),
        default=lambda settings: Decimal(settings.trace_region_limit),
    ),
    Rule(
        key="trace_network_window_hours",
        label=_l("Window for networks and regions, in hours"),
        help=_l("The networks and regions a trace code was looked up from are counted over this many hours."),
        unit="hours",
        places=0,
        minimum=Decimal("1"),
        maximum=Decimal("720"),
        default=lambda settings: _hours(settings.trace_network_window),
    ),
)
BY_KEY: dict[str, Rule] = {rule.key: rule for rule in RULES}


@dataclass(frozen=True)
class RuleValues:
    """Every rule's value in force, typed as its callers use it."""

    gate_weight_tolerance_percent: Decimal
    gate_overdue: timedelta
    trace_scan_limit: int
    trace_network_limit: int
    trace_region_limit: int
    trace_network_window: timedelta


def values_of(settings: Settings, overrides: dict[str, Decimal]) -> RuleValues:
    """The values in force: each override, else the rule's default from `settings`."""

    def value(key: str) -> Decimal:
        found = overrides.get(key)
        return found if found is not None else BY_KEY[key].default(settings)

    return RuleValues(
        gate_weight_tolerance_percent=value("gate_weight_tolerance_percent"),
        gate_overdue=timedelta(hours=int(value("gate_overdue_hours"))),
        trace_scan_limit=int(value("trace_scan_limit")),
        trace_network_limit=int(value("trace_network_limit")),
        trace_region_limit=int(value("trace_region_limit")),
        trace_network_window=timedelta(hours=int(value("trace_network_window_hours"))),
    )


def overrides_of(rows: Iterable[Any]) -> dict[str, Decimal]:
    """The stored (key, value) rows as numbers, leaving out what the catalog does not know or cannot read."""
    found = {}
    for key, text in rows:
        value = parse(text)
        if key in BY_KEY and value is not None:
            found[key] = value
    return found


def as_text(value: Decimal) -> str:
    """How a value is stored and sent: plain digits, no exponent, no trailing zeros ("3.5", "50")."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse(text: str) -> Decimal | None:
    """A stored value back as a number; None for text that is not one (a hand edit), which the default replaces."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None
    return value if value.is_finite() else None
