"""GET /api/v1/me/home: each role's home screen in one call, counted as the caller may see."""

from datetime import timedelta

import pytest

from app.audit.service import Actor
from app.common import clock
from app.declarations.models import DeclarationStatus as S
from app.enterprises.models import EnterpriseKind
from app.exports.models import ParcelStage
from app.gates.models import Direction, GatePassage, PassageStatus, PassStatus
from app.inspections import booking
from app.inspections.models import TaskStatus
from app.inspections.rules import SHANGHAI
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.users.models import Role
from tests.factories import (
    make_declaration,
    make_enterprise,
    make_export_list,
    make_gate,
    make_gate_pass,
    make_inspection_site,
    make_slot,
    make_task,
    make_user,
)

HOME = "/api/v1/me/home"


def home(client, headers):
    response = client.get(HOME, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def nonzero(counts):
    return {status: count for status, count in counts.items() if count}


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE])


@pytest.fixture
def stranger(session):
    """A declarant of another enterprise, whose lists and passes nobody else's home counts."""
    return make_user(session, role=Role.DECLARANT)


def test_a_declarant_sees_their_lists_tasks_to_book_and_passes_in_flight(
    client, auth_headers, session, declarant, stranger, warehouse
):
    make_declaration(session, declarant=declarant, warehouse=warehouse)
    make_declaration(session, declarant=declarant, warehouse=warehouse, status=S.RELEASED)
    make_export_list(session, declarant=declarant, warehouse=warehouse, status=S.ACCEPTED)
    make_task(session, declaration=make_declaration(session, declarant=declarant, status=S.INSPECTION))
    make_gate_pass(session, declarant=declarant, status=PassStatus.HELD)
    make_gate_pass(session, declarant=declarant, status=PassStatus.PASSED)
    make_declaration(session, declarant=stranger, warehouse=warehouse)
    make_task(session, declaration=make_declaration(session, declarant=stranger, status=S.INSPECTION))
    make_gate_pass(session, declarant=stranger)

    make_declaration(session, declarant=declarant, warehouse=warehouse, status=S.REJECTED)

    answer = home(client, auth_headers(declarant))

    assert answer["role"] == "declarant"
    # Released lists (the passes' own among them) are history; a rejected one waits on the declarant.
    assert answer["lists"]["import"]["total"] == 3
    assert nonzero(answer["lists"]["import"]["by_status"]) == {"submitted": 1, "inspection": 1, "rejected": 1}
    assert answer["lists"]["export"]["total"] == 1
    assert nonzero(answer["lists"]["export"]["by_status"]) == {"accepted": 1}
    assert answer["inspections"]["waiting_on_me"] == 1
    assert nonzero(answer["inspections"]["by_status"]) == {"notified": 1}
    assert answer["gate_passes"]["in_flight"] == 1
    assert answer["gate_passes"]["by_status"] == {"declared": 0, "approved": 0, "held": 1, "passed_gate_1": 0}
    assert answer["officer"] is None and answer["gates"] is None


def test_every_status_is_counted_even_when_none(client, auth_headers, declarant):
    answer = home(client, auth_headers(declarant))

    assert answer["lists"]["import"]["by_status"] == dict.fromkeys(
        ["submitted", "send_failed", "accepted", "manual_review", "audited", "inspection", "rejected", "detained"], 0
    )
    assert answer["inspections"] == {
        "waiting_on_me": 0,
        "by_status": dict.fromkeys(
            ["issued", "notified", "appointed", "goods_ready", "in_progress", "recheck", "result_normal", "disposed"],
            0,
        ),
        "next_appointment_at": None,
    }
    assert answer["notices"] == {"unread": 0, "unacknowledged": 0, "latest": []}


def test_notice_counts_fall_as_the_app_reads_and_acknowledges(client, auth_headers, session, declarant):
    for _ in range(3):
        make_task(session, declaration=make_declaration(session, declarant=declarant, status=S.INSPECTION))
    headers = auth_headers(declarant)
    latest = home(client, headers)["notices"]["latest"]
    assert [notice["kind"] for notice in latest] == ["inspection.issued"] * 3
    assert latest[0]["seq"] > latest[1]["seq"] > latest[2]["seq"]

    client.post("/api/v1/notices/read", json={"ids": [latest[0]["id"]]}, headers=headers)
    client.post("/api/v1/notices/ack", json={"up_to_seq": latest[1]["seq"]}, headers=headers)

    notices = home(client, headers)["notices"]
    assert (notices["unread"], notices["unacknowledged"]) == (2, 0)


def test_a_warehouse_operator_sees_booked_tasks_whose_goods_are_to_be_staged(
    client, auth_headers, session, declarant, stranger, warehouse
):
    operator = make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)
    booked = make_task(
        session, declaration=make_declaration(session, declarant=declarant, warehouse=warehouse, status=S.INSPECTION)
    )
    make_task(
        session, declaration=make_declaration(session, declarant=stranger, warehouse=warehouse, status=S.INSPECTION)
    )
    slot = make_slot(session)
    booking.book(session, booked.id, slot_id=slot.id, booker=declarant)
    make_export_list(session, declarant=stranger, warehouse=warehouse)
    make_export_list(session, declarant=stranger, warehouse=warehouse, status=S.CLOSED)
    make_declaration(session, declarant=declarant)  # at another warehouse

    answer = home(client, auth_headers(operator))

    assert answer["lists"]["import"]["total"] == 2
    assert answer["lists"]["export"]["total"] == 1
    assert answer["inspections"]["waiting_on_me"] == 1
    assert nonzero(answer["inspections"]["by_status"]) == {"notified": 1, "appointed": 1}
    assert answer["inspections"]["next_appointment_at"] == slot.starts_at.isoformat()
    assert answer["gate_passes"] is None and answer["officer"] is None


def test_an_officer_sees_every_list_todays_queues_warnings_and_diverted_parcels(
    client, auth_headers, session, officer, declarant, stranger
):
    make_declaration(session, declarant=declarant, status=S.MANUAL_REVIEW)
    make_export_list(session, declarant=stranger, parcels=2, stage=ParcelStage.DIVERTED)
    make_export_list(session, declarant=stranger, parcels=1, stage=ParcelStage.HELD)
    site = make_inspection_site(session, code="CY-HOME-1")
    midday = clock.utcnow().astimezone(SHANGHAI).replace(hour=12, minute=0, second=0, microsecond=0)
    for status, at in [
        (TaskStatus.GOODS_READY, midday),
        (TaskStatus.APPOINTED, midday),
        (TaskStatus.GOODS_READY, midday + timedelta(days=1)),  # tomorrow's queue
    ]:
        task = make_task(session, declaration=make_declaration(session, declarant=declarant, status=S.INSPECTION))
        task.site, task.appointment_at, task.status = site, at, status
    session.flush()
    raise_ = {"source": WarningSource.OFFICER, "title": "warning"}
    risk.raise_warning(session, subject_key="home:1", severity=Severity.HIGH, **raise_)
    mine = risk.raise_warning(session, subject_key="home:2", severity=Severity.HIGH, **raise_)
    risk.take(session, mine.id, officer=officer, actor=Actor(user=officer, client_addr=None))
    others = risk.raise_warning(session, subject_key="home:3", severity=Severity.LOW, **raise_)
    risk.take(session, others.id, officer=make_user(session, role=Role.CUSTOMS_OFFICER), actor=Actor(None, None))

    answer = home(client, auth_headers(officer))

    assert answer["lists"]["import"]["total"] == 4
    assert nonzero(answer["lists"]["import"]["by_status"]) == {"manual_review": 1, "inspection": 3}
    assert answer["lists"]["export"]["total"] == 2
    assert answer["inspections"]["waiting_on_me"] == 1
    assert nonzero(answer["inspections"]["by_status"]) == {"appointed": 1, "goods_ready": 1}
    [queue] = answer["officer"]["tasks_today_by_site"]
    assert (queue["site_id"], queue["code"], queue["total"]) == (site.id, "CY-HOME-1", 2)
    assert answer["officer"]["warnings_by_severity"] == {
        "low": {"open": 0, "taken_by_me": 0},
        "medium": {"open": 0, "taken_by_me": 0},
        "high": {"open": 1, "taken_by_me": 1},
    }
    assert answer["officer"]["export_parcels"] == {"diverted": 2, "held": 1}
    assert answer["gate_passes"] is None and answer["gates"] is None


def test_a_gate_operator_sees_vehicles_waiting_at_each_gate(client, auth_headers, session, gate_operator):
    north, south = make_gate(session, code="KK-N"), make_gate(session, code="KK-S")
    for gate, status in [
        (north, PassageStatus.REFERRED),
        (north, PassageStatus.REFERRED),
        (north, PassageStatus.LANE_ASSIGNED),
        (north, PassageStatus.CLEARED),
        (south, PassageStatus.TURNED_BACK),
    ]:
        lane = gate.lanes[0]
        session.add(
            GatePassage(
                gate=gate,
                lane=lane,
                direction=Direction.OUT,
                status=status,
                plate_read="渝B12345",
                arrived_by_id=gate_operator.id,
            )
        )
    session.flush()

    answer = home(client, auth_headers(gate_operator))

    assert answer["gates"] == [
        {"gate_id": north.id, "code": "KK-N", "name": north.name, "lane_assigned": 1, "referred": 2}
    ]
    assert answer["lists"] is None and answer["inspections"] is None and answer["officer"] is None


def test_an_admin_sees_notices_and_every_list(client, auth_headers, session, admin, declarant, stranger):
    make_declaration(session, declarant=declarant)
    make_declaration(session, declarant=declarant, status=S.RELEASED)
    make_export_list(session, declarant=stranger, status=S.AUDITED)

    answer = home(client, auth_headers(admin))

    assert (answer["lists"]["import"]["total"], answer["lists"]["export"]["total"]) == (1, 1)
    assert answer["inspections"] is None and answer["officer"] is None and answer["gates"] is None


def test_home_needs_a_signed_in_person(client, auth_headers, gateway):
    unauthenticated = client.get(HOME)
    machine = client.get(HOME, headers=auth_headers(gateway))

    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["Content-Type"] == "application/problem+json"
    assert machine.status_code == 403
