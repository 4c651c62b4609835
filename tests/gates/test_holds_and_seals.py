from app.declarations.models import DeclarationStatus
from app.gates.models import Direction, LaneType, PassStatus
from app.notices.models import NoticeKind
from app.users.models import Role
from tests.factories import make_declaration, make_gate, make_gate_pass, make_user, make_vehicle
from tests.gates.helpers import PASSES, WARNINGS, arrive, decide, notice_kinds, weigh
from tests.gates.test_routes import declare


def hold(client, headers, gate_pass, reason="SAS224 布控查验"):
    return client.post(f"{PASSES}/{gate_pass.id}/hold", json={"reason": reason}, headers=headers)


def test_customs_holds_an_approved_pass_and_the_vehicle_is_referred_until_released(
    client, auth_headers, session, gate, gate_operator, declarant, officer
):
    gate_pass = make_gate_pass(session, declarant=declarant)
    ops = auth_headers(gate_operator)

    held = hold(client, auth_headers(officer), gate_pass)
    arrived = arrive(client, ops, gate, gate_pass.plate)
    referred = weigh(client, ops, arrived.json["id"], "10000")

    assert held.status_code == 200
    assert (held.json["status"], held.json["hold_source"], held.json["hold_reason"]) == (
        "held",
        "customs",
        "SAS224 布控查验",
    )
    assert arrived.json["needs"] == ["hold_lifted", "weight"]
    assert referred.json["status"] == "referred"
    assert referred.json["reasons"] == ["pass_held"]
    assert notice_kinds(session, declarant) == [NoticeKind.GATE_HELD, NoticeKind.GATE_REFERRED]


def test_the_gate_cannot_clear_a_vehicle_whose_pass_customs_holds(
    client, auth_headers, session, gate, gate_operator, officer
):
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)
    hold(client, auth_headers(officer), gate_pass)
    arrived = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, arrived.json["id"], "10000")

    refused = decide(client, ops, arrived.json["id"], "clear", "documents_verified")
    released = client.post(f"{PASSES}/{gate_pass.id}/approve", headers=auth_headers(officer))
    cleared = decide(client, ops, arrived.json["id"], "clear", "officer_instruction")

    assert refused.status_code == 409
    assert "held by customs" in refused.json["detail"]
    assert released.json["status"] == "approved"
    assert released.json["hold_source"] is None
    assert cleared.json["status"] == "cleared"
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "passed"


def test_the_customs_gateway_holds_a_pass_as_a_sas224_receipt_would_and_a_retry_changes_nothing(
    client, auth_headers, session
):
    gate_pass = make_gate_pass(session)
    gateway = auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))

    first = hold(client, gateway, gate_pass)
    again = hold(client, gateway, gate_pass)

    assert first.status_code == again.status_code == 200
    assert again.json["held_at"] == first.json["held_at"]


def test_a_hold_between_the_barriers_of_a_dual_gate_lane_is_released_back_to_passed_gate_1(
    client, auth_headers, session, gate_operator, officer
):
    gate = make_gate(session, lanes=[(LaneType.GENERAL, Direction.OUT)])
    gate.lanes[0].dual_gate = True
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)
    first = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, first.json["id"], "10000")

    hold(client, auth_headers(officer), gate_pass)
    released = client.post(f"{PASSES}/{gate_pass.id}/approve", headers=auth_headers(officer))
    second = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, second.json["id"], "10000")

    assert released.json["status"] == "passed_gate_1"
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "passed"


def test_only_a_pass_vehicles_may_still_use_can_be_held(client, auth_headers, session, declarant, officer):
    gate_pass = make_gate_pass(session, status=PassStatus.PASSED)

    refused = hold(client, auth_headers(officer), gate_pass)
    forbidden = hold(client, auth_headers(declarant), make_gate_pass(session, declarant=declarant))
    blank = client.post(f"{PASSES}/{gate_pass.id}/hold", json={"reason": "  "}, headers=auth_headers(officer))

    assert refused.status_code == 409
    assert forbidden.status_code == 403
    assert blank.status_code == 422
    assert "reason" in blank.json["errors"]["json"]


def test_a_customs_hold_appears_on_the_declaration_timeline(client, auth_headers, session, declarant, officer):
    gate_pass = make_gate_pass(session, declarant=declarant)

    hold(client, auth_headers(officer), gate_pass)
    client.post(f"{PASSES}/{gate_pass.id}/approve", headers=auth_headers(officer))

    declaration = gate_pass.declarations[0]
    events = client.get(f"/api/v1/declarations/{declaration.id}/timeline", headers=auth_headers(declarant)).json
    steps = [event["step"] for event in events["events"]]
    assert steps[-2:] == ["gate_pass_held", "gate_pass_released"]


def test_a_declared_e_seal_is_checked_at_the_gate(client, auth_headers, session, gate, gate_operator, officer):
    gate_pass = make_gate_pass(session, eseal_no="ES2026000123")
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate, eseal_no="es2026000999")
    referred = weigh(client, ops, arrived.json["id"], "10000")

    assert arrived.json["eseal_no_read"] == "ES2026000999"
    assert referred.json["reasons"] == ["eseal_mismatch"]
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["hold_source"] == "gate"
    [warning] = client.get(WARNINGS, query_string={"plate": gate_pass.plate}, headers=auth_headers(officer)).json[
        "items"
    ]
    assert warning["severity"] == "high"


def test_a_matching_e_seal_clears_and_a_missing_read_is_asked_for(client, auth_headers, session, gate, gate_operator):
    sealed = make_gate_pass(session, eseal_no="ES2026000123")
    unread = make_gate_pass(session, eseal_no="ES2026000124")
    ops = auth_headers(gate_operator)

    matched = arrive(client, ops, gate, sealed.plate, eseal_no="ES2026000123")
    missing = arrive(client, ops, gate, unread.plate)

    assert weigh(client, ops, matched.json["id"], "10000").json["status"] == "auto_cleared"
    assert missing.json["needs"] == ["eseal_no", "weight"]
    assert weigh(client, ops, missing.json["id"], "10000").json["reasons"] == ["eseal_not_read"]


def test_a_declarant_declares_the_e_seal_on_the_pass(client, auth_headers, session, declarant):
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)

    declared = declare(client, auth_headers(declarant), make_vehicle(session), [released], eseal_no=" es-0042 ")

    assert declared.status_code == 201
    assert declared.json["eseal_no"] == "ES-0042"
