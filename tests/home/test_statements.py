"""Each role's home is a fixed number of statements, however many lists, tasks, sites and gates there are.

Pinned so a change that adds a round trip (a lookup per site, a second query for names, objects loaded to be
counted) shows here; the benchmark (scripts/bench_home.py) measures what each costs with 100,000 lists.
"""

import pytest
from sqlalchemy import event

from app.common import clock
from app.declarations.models import DeclarationStatus as S
from app.enterprises.models import EnterpriseKind
from app.exports.models import ParcelStage
from app.gates.models import Direction, GatePassage, PassageStatus
from app.inspections.models import TaskStatus
from app.inspections.rules import SHANGHAI
from app.users.models import Role
from tests.factories import (
    make_declaration,
    make_enterprise,
    make_export_list,
    make_gate,
    make_gate_pass,
    make_inspection_site,
    make_task,
    make_user,
)

HOME = "/api/v1/me/home"
# The caller (one statement: user, session and enterprise), the notice counts and the newest notices, then per role:
EXPECTED = {
    Role.DECLARANT: ["caller", "notice counts", "newest notices", "lists", "open tasks", "passes in flight"],
    Role.WAREHOUSE_OPERATOR: ["caller", "notice counts", "newest notices", "lists", "open tasks"],
    Role.CUSTOMS_OFFICER: [
        "caller", "notice counts", "newest notices", "lists", "today's queues with their sites", "parcels", "warnings"
    ],
    Role.GATE_OPERATOR: ["caller", "notice counts", "newest notices", "vehicles waiting with their gates"],
    Role.ADMIN: ["caller", "notice counts", "newest notices", "lists"],
}  # fmt: skip


@pytest.fixture
def park(session, declarant, gate_operator):
    """Some of everything a home counts, at two of each place, so a per-row lookup would show."""
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    midday = clock.utcnow().astimezone(SHANGHAI).replace(hour=12, minute=0, second=0, microsecond=0)
    for n in range(2):
        site = make_inspection_site(session, code=f"CY-STMT-{n}")
        for status in (TaskStatus.APPOINTED, TaskStatus.GOODS_READY):
            declaration = make_declaration(session, declarant=declarant, warehouse=warehouse, status=S.INSPECTION)
            task = make_task(session, declaration=declaration)
            task.site, task.appointment_at, task.status = site, midday, status
        make_export_list(session, declarant=declarant, warehouse=warehouse, parcels=2, stage=ParcelStage.DIVERTED)
        make_gate_pass(session, declarant=declarant)
        gate = make_gate(session, code=f"KK-STMT-{n}")
        for status in (PassageStatus.LANE_ASSIGNED, PassageStatus.REFERRED):
            session.add(
                GatePassage(
                    gate=gate,
                    lane=gate.lanes[0],
                    direction=Direction.OUT,
                    status=status,
                    plate_read="渝B12345",
                    arrived_by_id=gate_operator.id,
                )
            )
    session.flush()
    return warehouse


def statements(app, client, headers):
    seen = []

    def count(_conn, _cursor, statement, *_args):
        # The tests' savepoints stand in for the request's BEGIN and COMMIT, which are not statements.
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            seen.append(statement)

    engine = app.extensions["engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(HOME, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.json
    return seen


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda role: role.value)
def test_each_roles_home_is_a_fixed_number_of_statements(app, client, auth_headers, session, declarant, park, role):
    if role is Role.DECLARANT:
        user = declarant  # the one whose lists, tasks and passes the park holds
    elif role is Role.WAREHOUSE_OPERATOR:
        user = make_user(session, role=role, enterprise=park)
    else:
        user = make_user(session, role=role)
    headers = auth_headers(user)
    warm = client.get(HOME, headers=headers).json  # caches warm, as on a running server
    if role is Role.CUSTOMS_OFFICER:
        assert len(warm["officer"]["tasks_today_by_site"]) == 2
    if role is Role.GATE_OPERATOR:
        assert len(warm["gates"]) == 2

    assert len(statements(app, client, headers)) == len(EXPECTED[role])
