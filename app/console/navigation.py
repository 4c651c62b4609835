"""The console's menu: which pages each role sees. A new page adds one entry here (see app/console/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.i18n import _l
from app.users.models import Role, User


@dataclass(frozen=True)
class Entry:
    label: object  # a lazy string, translated when the menu is drawn
    endpoint: str
    roles: frozenset[Role]  # empty: every signed-in person


MENU: tuple[Entry, ...] = (
    Entry(_l("Home"), "console.home.index", frozenset()),
    Entry(_l("Users"), "console.users.index", frozenset({Role.ADMIN})),
    Entry(_l("Enterprises"), "console.enterprises.index", frozenset({Role.ADMIN})),
    Entry(_l("Rules"), "console.rules.index", frozenset({Role.ADMIN})),
    Entry(_l("Audit trail"), "console.audit.index", frozenset({Role.ADMIN})),
    Entry(_l("Gates and lanes"), "console.gates_admin.index", frozenset({Role.ADMIN})),
    Entry(_l("Unknown receipts"), "console.receipts.index", frozenset({Role.ADMIN})),
    Entry(_l("Risk warnings"), "console.officer.warnings", frozenset({Role.CUSTOMS_OFFICER})),
    Entry(_l("Inspection queue"), "console.inspection_desk.index", frozenset({Role.CUSTOMS_OFFICER})),
    Entry(_l("Referred vehicles"), "console.referrals.index", frozenset({Role.CUSTOMS_OFFICER})),
    Entry(_l("Gate screen"), "console.gate.screen", frozenset({Role.GATE_OPERATOR})),
    Entry(
        _l("Dashboards"), "console.dashboards.index", frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR})
    ),
)


def navigation(user: User | None) -> list[Entry]:
    """The entries `user` may open, in menu order (none before sign-in)."""
    if user is None or user.must_change_password:
        return []
    return [entry for entry in MENU if not entry.roles or user.role in entry.roles]
