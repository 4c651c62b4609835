"""Admins build gates and lanes and switch lanes in the console through the lanes use cases: the same rules, the
same audit entries, each switch with the reason the admin typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.gates.models import Direction, Gate, Lane, LaneState, LaneType
from app.users.models import Role
from tests.console.conftest import csrf_of
from tests.factories import make_gate, make_user

GATES = "/console/admin/gates"
ONE_LANE = [(LaneType.CONTAINER, Direction.IN)]


def _post(client, path, data, page=None):
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page or path).data)})


@pytest.fixture
def admin_client(console_client, session):
    return console_client(make_user(session, role=Role.ADMIN))


@pytest.fixture
def lane(session):
    return make_gate(session, lanes=ONE_LANE).lanes[0]


def test_the_gates_page_lists_each_gate_with_its_lanes(admin_client, session):
    gate = make_gate(session, lanes=[(LaneType.CONTAINER, Direction.IN), (LaneType.CONVENIENT, Direction.OUT)])
    gate.lanes[1].state = LaneState.CLOSED
    session.flush()

    page = admin_client.get(GATES).data.decode()

    section = page[page.index(f'data-gate="{gate.code}"') :]
    rows = re.findall(r'<tr data-lane="([^"]+)">(.*?)</tr>', section[: section.index("</section>")], re.S)
    assert [code for code, _row in rows] == ["I01", "O02"]
    assert all(word in rows[0][1] for word in ("Container", "Into the zone", "Open to traffic"))
    assert all(word in rows[1][1] for word in ("Convenient", "Out of the zone", "Closed to traffic"))


def test_the_gates_page_on_past_the_first_page(admin_client, session):
    made = [make_gate(session, lanes=[]) for _serial in range(26)]

    first = admin_client.get(GATES).data.decode()
    older = re.search(r'href="(/console/admin/gates\?cursor=[^"]+)"', first).group(1)
    second = admin_client.get(older).data.decode()

    assert first.count("data-gate=") == 25
    assert f'data-gate="{made[0].code}"' in second
    assert f'data-gate="{made[0].code}"' not in first


def test_an_admin_registers_a_gate_and_it_is_audited(admin_client, session):
    answer = _post(admin_client, f"{GATES}/new", {"code": "xy-kk9", "name": "西永九号卡口", "customs_code": "8012"})

    gate = session.scalar(select(Gate).where(Gate.code == "XY-KK9"))
    assert answer.headers["Location"] == f"{GATES}/{gate.id}"
    assert "Gate XY-KK9 is registered" in admin_client.get(answer.headers["Location"]).data.decode()
    entry = select(AuditEvent.action).where(AuditEvent.target_type == "gates", AuditEvent.target_id == str(gate.id))
    assert session.scalars(entry).all() == ["gate.created"]


def test_a_taken_gate_code_is_refused_beside_its_field(admin_client, session):
    taken = make_gate(session, lanes=[])

    answer = _post(admin_client, f"{GATES}/new", {"code": taken.code, "name": "Again", "customs_code": "8012"})

    assert answer.status_code == 400
    assert b"Already registered." in answer.data


def test_an_admin_adds_a_dual_gate_lane(admin_client, session):
    gate = make_gate(session, lanes=[])

    answer = _post(
        admin_client,
        f"{GATES}/{gate.id}",
        {"code": "e07", "lane_type": "container", "direction": "out", "state": "closed", "dual_gate": "true"},
    )

    assert answer.status_code == 302
    lane = session.scalar(select(Lane).where(Lane.gate_id == gate.id))
    assert (lane.code, lane.lane_type, lane.direction, lane.state, lane.dual_gate) == (
        "E07",
        LaneType.CONTAINER,
        Direction.OUT,
        LaneState.CLOSED,
        True,
    )
    assert 'data-lane="E07"' in admin_client.get(answer.headers["Location"]).data.decode()


def test_a_lane_code_used_at_the_gate_is_refused(admin_client, session, lane):
    answer = _post(
        admin_client, f"{GATES}/{lane.gate_id}", {"code": lane.code, "lane_type": "general", "direction": "in"}
    )

    assert answer.status_code == 400
    assert b"Already used." in answer.data


def test_an_admin_closes_a_lane_and_reads_the_switch_with_its_reason(admin_client, session, lane):
    answer = _post(admin_client, f"{GATES}/lanes/{lane.id}", {"state": "closed", "reason": "Barrier 2 under repair"})

    assert answer.headers["Location"] == f"{GATES}/lanes/{lane.id}"
    session.refresh(lane)
    assert lane.state is LaneState.CLOSED
    page = admin_client.get(answer.headers["Location"]).data.decode()
    [row] = re.findall(r"<tr data-event=.*?</tr>", page, re.S)
    assert "State: Open to traffic → Closed to traffic" in row
    assert "Barrier 2 under repair" in row
    entry = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "gate.lane_switched", AuditEvent.target_id == str(lane.id))
    )
    assert entry.details == {"state": {"from": "open", "to": "closed"}, "reason": "Barrier 2 under repair"}
    assert entry.actor_username in row


def test_an_admin_turns_a_lane_round_and_makes_it_convenient(admin_client, session, lane):
    _post(
        admin_client,
        f"{GATES}/lanes/{lane.id}",
        {"lane_type": "convenient", "direction": "out", "reason": "Building materials this week"},
    )

    session.refresh(lane)
    assert (lane.lane_type, lane.direction, lane.state) == (LaneType.CONVENIENT, Direction.OUT, LaneState.OPEN)
    page = admin_client.get(f"{GATES}/lanes/{lane.id}").data.decode()
    assert "Type: Container → Convenient" in page
    assert "Direction: Into the zone → Out of the zone" in page


def test_a_switch_without_a_reason_is_refused(admin_client, session, lane):
    answer = _post(admin_client, f"{GATES}/lanes/{lane.id}", {"state": "closed", "reason": "  "})

    assert answer.status_code == 400
    session.refresh(lane)
    assert lane.state is LaneState.OPEN


def test_a_switch_must_change_something(admin_client, session, lane):
    answer = _post(admin_client, f"{GATES}/lanes/{lane.id}", {"reason": "Nothing really"})

    assert answer.status_code == 400
    assert b"Send lane_type, direction or state" in answer.data
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "gate.lane_switched")) is None


def test_a_lane_that_does_not_exist_is_a_404(admin_client):
    assert admin_client.get(f"{GATES}/lanes/999999999").status_code == 404


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR])
def test_other_roles_may_not_open_or_switch_lanes(console_client, session, lane, role):
    client = console_client(make_user(session, role=role))

    page = client.get(GATES)
    switched = client.post(
        f"{GATES}/lanes/{lane.id}",
        data={"state": "closed", "reason": "x", "csrf_token": csrf_of(client.get("/console/").data)},
    )

    assert (page.status_code, switched.status_code) == (403, 403)
    session.refresh(lane)
    assert lane.state is LaneState.OPEN


def test_a_switch_without_its_csrf_token_changes_nothing(admin_client, session, lane):
    answer = admin_client.post(f"{GATES}/lanes/{lane.id}", data={"state": "closed", "reason": "Forged"})

    assert answer.status_code == 400
    session.refresh(lane)
    assert lane.state is LaneState.OPEN


def test_the_menu_leads_admins_to_gates_and_receipts(admin_client, console_client, session):
    officer = console_client(make_user(session, role=Role.CUSTOMS_OFFICER))

    admins_menu = admin_client.get("/console/").data.decode()
    officers_menu = officer.get("/console/").data.decode()

    assert 'href="/console/admin/gates"' in admins_menu
    assert 'href="/console/admin/receipts"' in admins_menu
    assert 'href="/console/admin/gates"' not in officers_menu
    assert 'href="/console/admin/receipts"' not in officers_menu
