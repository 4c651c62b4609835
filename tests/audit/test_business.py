"""Every business state change is on the audit chain, and admins verify the chain over the API."""

import pytest
from sqlalchemy import delete, select, update

from app.audit.models import AuditEvent
from app.declarations.models import DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.users.models import Role
from tests.declarations.test_routes import declaration_body
from tests.factories import (
    make_declaration,
    make_enterprise,
    make_gate,
    make_gate_pass,
    make_slot,
    make_task,
    make_user,
)
from tests.gates.helpers import arrive, weigh
from tests.inspections.helpers import act, book
from tests.stock.test_routes import scan_in
from tests.trace.helpers import issue, make_setup, release, set_status

EVENTS = "/api/v1/admin/audit-events"
VERIFY = "/api/v1/admin/audit/verify"


@pytest.fixture
def admin_headers(session, auth_headers):
    return auth_headers(make_user(session, role=Role.ADMIN))


def entries(client, headers, **query):
    response = client.get(EVENTS, query_string={"limit": 100, **query}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["items"]


def entry(client, headers, action, **query):
    """The one entry with `action` (and the query's subject), read over the API."""
    found = entries(client, headers, action=action, **query)
    assert len(found) == 1, (action, found)
    return found[0]


def assert_chain_verifies(client, headers):
    response = client.get(VERIFY, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["ok"] is True, response.json
    assert response.json["first_broken"] is None
    assert response.json["next_after_seq"] is None
    assert response.json["checked"] == response.json["head_seq"] > 0


# Each kind of change, made over the API, found over the API


def test_a_submitted_declaration_and_its_correction_are_on_the_chain(
    client, session, declarant, auth_headers, admin_headers
):
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    headers = auth_headers(declarant)
    submitted = client.post("/api/v1/declarations", json=declaration_body(warehouse), headers=headers)
    rejected = make_declaration(session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.REJECTED)
    corrected = client.post(
        f"/api/v1/declarations/{rejected.id}/corrections",
        json=declaration_body(warehouse, cop_no=rejected.cop_no),
        headers=headers,
    )

    first = entry(client, admin_headers, "declaration.submitted", target_id=str(submitted.json["id"]))
    second = entry(client, admin_headers, "declaration.corrected", target_id=str(corrected.json["id"]))

    assert first["target_type"] == "declarations"
    assert first["actor_id"] == declarant.id
    assert first["details"]["cop_no"] == "YG20261111-0001"
    assert second["details"]["corrects_id"] == rejected.id
    assert_chain_verifies(client, admin_headers)


def test_applied_receipts_and_the_release_they_make_are_on_the_chain(
    client, session, declarant, auth_headers, admin_headers
):
    gateway = make_user(session, role=Role.CUSTOMS_GATEWAY)
    declaration = make_declaration(session, declarant=declarant)
    receipts = [
        {"guid": declaration.guid, "status_code": 120, "return_time": "20261111093000000"},
        {"guid": declaration.guid, "status_code": 800, "return_time": "20261111103000000"},
    ]

    answer = client.post("/api/v1/customs/receipts", json={"receipts": receipts}, headers=auth_headers(gateway))

    accepted_id, released_id = (str(result["receipt_id"]) for result in answer.json["results"])
    accepted = entry(client, admin_headers, "receipt.applied", target_id=accepted_id)
    assert accepted["target_type"] == "customs_receipts"
    assert accepted["actor_id"] == gateway.id
    assert accepted["details"] == {
        "status_code": 120,
        "declaration_id": declaration.id,
        "from": "submitted",
        "to": "accepted",
    }
    assert entry(client, admin_headers, "receipt.applied", target_id=released_id)["details"]["to"] == "released"
    release_entry = entry(client, admin_headers, "declaration.released", target_id=str(declaration.id))
    assert release_entry["details"]["source"] == "receipt_800"
    assert_chain_verifies(client, admin_headers)


def test_an_officers_release_moves_stock_and_codes_all_on_the_chain(client, session, auth_headers, admin_headers):
    setup = make_setup(session, qty=3)
    operator = auth_headers(setup.operator)
    assert scan_in(client, operator, "10").status_code == 201
    issued = issue(client, operator, setup.declaration.id, 3)
    assert set_status(client, operator, "affixed", batch_id=issued.json["batch"]["id"]).status_code == 200

    release(client, auth_headers(setup.officer), setup.declaration.id)

    scanned = entry(client, admin_headers, "stock.scanned_in")
    assert scanned["actor_id"] == setup.operator.id
    assert scanned["details"]["quantity"] == "10.0000"
    batch = entry(client, admin_headers, "trace_codes.issued")
    assert batch["target_type"] == "trace_code_batches"
    assert batch["details"]["count"] == 3
    assert entry(client, admin_headers, "trace_codes.affixed")["details"]["count"] == 3
    released = entry(client, admin_headers, "declaration.released", target_id=str(setup.declaration.id))
    assert released["actor_id"] == setup.officer.id
    assert released["details"]["source"] == "officer"
    assert entry(client, admin_headers, "stock.released_out")["details"]["lines"][0]["quantity"] == "3.0000"
    assert entry(client, admin_headers, "trace_codes.active")["details"]["count"] == 3
    assert_chain_verifies(client, admin_headers)


def test_every_inspection_step_is_on_the_chain(client, session, declarant, officer, auth_headers, admin_headers):
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    operator = make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)
    declaration = make_declaration(
        session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.INSPECTION
    )
    task = make_task(session, declaration=declaration)
    slot = make_slot(session)

    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200
    assert act(client, auth_headers(operator), task.id, "goods-ready").status_code == 200
    assert act(client, auth_headers(officer), task.id, "start").status_code == 200
    assert act(client, auth_headers(officer), task.id, "result", {"result": "normal"}).status_code == 200

    steps = entries(client, admin_headers, target_type="inspection_tasks", target_id=str(task.id))
    assert [step["action"] for step in reversed(steps)] == [
        "inspection.issued",
        "inspection.booked",
        "inspection.goods_ready",
        "inspection.started",
        "inspection.result",
    ]
    assert [step["actor_id"] for step in reversed(steps)][1:] == [declarant.id, operator.id, officer.id, officer.id]
    assert steps[0]["details"]["result"] == "normal"
    assert_chain_verifies(client, admin_headers)


def test_an_officers_inspection_order_is_on_the_chain(client, session, declarant, officer, auth_headers, admin_headers):
    declaration = make_declaration(session, declarant=declarant, status=DeclarationStatus.ACCEPTED)

    ordered = client.post(
        "/api/v1/inspection-tasks", json={"declaration_id": declaration.id}, headers=auth_headers(officer)
    )

    issued = entry(client, admin_headers, "inspection.issued", target_id=str(ordered.json["id"]))
    assert issued["actor_id"] == officer.id
    assert issued["details"]["declaration_id"] == declaration.id
    assert_chain_verifies(client, admin_headers)


def test_a_vehicles_arrival_and_the_weighbridges_decision_are_on_the_chain(
    client, session, declarant, gate_operator, auth_headers, admin_headers
):
    gate = make_gate(session)
    gate_pass = make_gate_pass(session, declarant=declarant)
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate, ic_no=gate_pass.vehicle.ic_no)
    weigh(client, ops, arrived.json["id"], "10150.0")

    passage_id = str(arrived.json["id"])
    arrival = entry(client, admin_headers, "gate.arrived", target_id=passage_id)
    assert arrival["actor_id"] == gate_operator.id
    assert arrival["details"]["pass_id"] == gate_pass.id
    decision = entry(client, admin_headers, "gate.passage_decided", target_id=passage_id)
    assert decision["actor_id"] is None  # the weighbridge decided on its own
    assert decision["details"]["status"] == "auto_cleared"
    assert decision["details"]["automatic"] is True
    assert_chain_verifies(client, admin_headers)


# Verifying over the API


@pytest.fixture
def chain(client, session, auth_headers):
    """A few entries made over the API: a declarant's profile is no business change, sign-ins are."""
    user = make_user(session)
    for _ in range(3):
        client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong-password"})
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def test_verify_names_a_row_changed_in_the_database(client, session, admin_headers, chain):
    altered = chain[1]
    session.execute(update(AuditEvent).where(AuditEvent.id == altered.id).values(details={"username": "someone"}))

    response = client.get(VERIFY, headers=admin_headers)

    assert response.status_code == 200
    assert response.json["ok"] is False
    assert response.json["first_broken"]["id"] == altered.id
    assert response.json["first_broken"]["seq"] == altered.seq
    assert response.json["first_broken"]["reason"] == "altered"
    assert response.json["first_broken"]["action"] == "auth.login_failed"


def test_verify_notices_a_deleted_row_and_a_cut_off_tail(client, session, admin_headers, chain):
    session.execute(delete(AuditEvent).where(AuditEvent.id == chain[1].id))

    gap = client.get(VERIFY, headers=admin_headers).json

    assert gap["first_broken"]["id"] == chain[2].id
    assert gap["first_broken"]["reason"] == "gap"

    session.execute(delete(AuditEvent).where(AuditEvent.seq >= chain[1].seq))
    cut = client.get(VERIFY, headers=admin_headers).json

    assert cut["ok"] is False
    assert cut["first_broken"]["reason"] == "truncated"


def test_verify_notices_swapped_rows(client, session, admin_headers, chain):
    (first_id, first_seq), (second_id, second_seq) = ((event.id, event.seq) for event in chain[:2])
    session.execute(update(AuditEvent).where(AuditEvent.id == first_id).values(seq=-1))
    session.execute(update(AuditEvent).where(AuditEvent.id == second_id).values(seq=first_seq))
    session.execute(update(AuditEvent).where(AuditEvent.id == first_id).values(seq=second_seq))

    response = client.get(VERIFY, headers=admin_headers).json

    assert response["ok"] is False
    assert response["first_broken"]["id"] == second_id
    assert response["first_broken"]["reason"] == "link"


def test_verify_pages_through_a_long_chain(client, admin_headers, chain):
    after, checked, pages = 0, 0, 0
    while after is not None:
        response = client.get(VERIFY, query_string={"after_seq": after, "limit": 2}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json["ok"] is True
        checked += response.json["checked"]
        after = response.json["next_after_seq"]
        pages += 1

    assert checked == response.json["head_seq"] >= len(chain)
    assert pages >= 2


def test_a_page_after_a_tampered_one_still_finds_its_own_break(client, session, admin_headers, chain):
    session.execute(update(AuditEvent).where(AuditEvent.id == chain[2].id).values(action="auth.login"))

    before = client.get(VERIFY, query_string={"after_seq": chain[0].seq, "limit": 1}, headers=admin_headers).json
    at = client.get(VERIFY, query_string={"after_seq": chain[1].seq, "limit": 1}, headers=admin_headers).json

    assert before["ok"] is True
    assert before["next_after_seq"] == chain[1].seq
    assert at["ok"] is False
    assert at["first_broken"]["id"] == chain[2].id


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 100_001}, {"after_seq": -1}, {"after_seq": 2**63}])
def test_verify_bounds_its_work(client, admin_headers, query):
    response = client.get(VERIFY, query_string=query, headers=admin_headers)

    assert response.status_code == 422
    assert set(response.json["errors"]["query"]) == set(query)


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY])
def test_only_admins_verify_the_chain(client, session, auth_headers, role):
    response = client.get(VERIFY, headers=auth_headers(make_user(session, role=role)))

    assert response.status_code == 403


def test_verify_needs_a_sign_in(client):
    assert client.get(VERIFY).status_code == 401
