"""Gate passes covering bonded lists (SAS121 rlt_type 1) instead of inventory lists."""

import pytest

from app.bonded_lists.models import DeductionMark, EntryStatus, ImpExp, InvtStatus
from app.declarations.models import DeclarationStatus
from app.gates.models import BindType, Direction, LaneType, PassStatus
from app.users.models import Role
from tests.factories import make_bonded_list, make_declaration, make_gate, make_gate_pass, make_user, make_vehicle
from tests.gates.helpers import PASSES, arrive, decide, weigh

LISTS = "/api/v1/bonded-lists"


def declare(client, headers, vehicle, bonded_lists, **overrides):
    body = {
        "plate": vehicle.plate,
        "passport_type": "second_line",
        "bind_type": "one_vehicle_many_lists",
        "direction": "out",
        "customs_code": "8012",
        "bonded_list_ids": [bonded_list.id for bonded_list in bonded_lists],
        "goods_gross_kg": "1500",
        "goods_net_kg": "1400",
        **overrides,
    }
    return client.post(PASSES, json=body, headers=headers)


def ready(session, declarant, **overrides):
    """An approved list whose customs declaration is released: goods a vehicle may take out."""
    return make_bonded_list(
        session, declarant=declarant, invt_stucd=InvtStatus.APPROVED, entry_stucd=EntryStatus.RELEASED, **overrides
    )


def deduction(client, headers, bonded_list):
    return client.get(f"{LISTS}/{bonded_list.id}", headers=headers).json["deduction_mark"]


# Declaring and approving


def test_a_pass_on_a_bonded_list_is_approved_only_once_the_list_is_approved_and_its_entry_released(
    client, auth_headers, session, declarant, officer
):
    bonded_list = make_bonded_list(session, declarant=declarant)
    gateway = auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))
    approve = f"{PASSES}/{{}}/approve"

    declared = declare(client, auth_headers(declarant), make_vehicle(session), [bonded_list])
    pass_url = approve.format(declared.json["id"])
    before_list = client.post(pass_url, headers=auth_headers(officer))
    client.post(f"{LISTS}/{bonded_list.id}/approval", json={"result": "approved"}, headers=gateway)
    before_entry = client.post(pass_url, headers=auth_headers(officer))
    client.post(f"{LISTS}/{bonded_list.id}/entry-release", json={}, headers=gateway)
    approved = client.post(pass_url, headers=auth_headers(officer))

    assert declared.status_code == 201
    assert declared.json["declarations"] == []
    assert [(item["id"], item["bond_invt_no"]) for item in declared.json["bonded_lists"]] == [
        (bonded_list.id, bonded_list.bond_invt_no)
    ]
    assert before_list.status_code == 409
    assert f"{bonded_list.bond_invt_no} (declared)" in before_list.json["detail"]
    assert before_entry.status_code == 409
    assert f"{bonded_list.bond_invt_no} (entry not released)" in before_entry.json["detail"]
    assert approved.status_code == 200
    assert approved.json["status"] == "approved"
    assert approved.json["bonded_lists"][0]["entry_stucd"] == "released"


def test_a_list_that_needs_no_customs_declaration_only_needs_approving(
    client, auth_headers, session, declarant, officer
):
    bonded_list = make_bonded_list(session, declarant=declarant, dclcus_flag=False, invt_stucd=InvtStatus.APPROVED)

    declared = declare(client, auth_headers(declarant), make_vehicle(session), [bonded_list])
    approved = client.post(f"{PASSES}/{declared.json['id']}/approve", headers=auth_headers(officer))

    assert approved.status_code == 200
    assert approved.json["status"] == "approved"


def test_a_pass_covers_declarations_or_bonded_lists_not_both(client, auth_headers, session, declarant):
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)

    response = declare(
        client,
        auth_headers(declarant),
        make_vehicle(session),
        [ready(session, declarant)],
        declaration_ids=[released.id],
    )

    assert response.status_code == 422
    assert "bonded_list_ids" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("overrides", "count"),
    [
        ({"bind_type": "one_list_one_vehicle"}, 2),
        ({"bind_type": "one_list_many_vehicles"}, 2),
        ({"passport_type": "empty_vehicle", "goods_gross_kg": "0", "goods_net_kg": "0"}, 1),
        ({"passport_type": "non_declared"}, 1),
    ],
)
def test_the_binding_rules_apply_to_bonded_lists(client, auth_headers, session, declarant, overrides, count):
    lists = [ready(session, declarant) for _ in range(count)]

    response = declare(client, auth_headers(declarant), make_vehicle(session), lists, **overrides)

    assert response.status_code == 422
    assert "bonded_list_ids" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    "make",
    [
        lambda session, declarant: ready(session, None),  # another enterprise's
        lambda session, declarant: make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.REJECTED),
        lambda session, declarant: make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.DELETED),
        lambda session, declarant: ready(session, declarant, deduction_mark=DeductionMark.DEDUCTED),
        lambda session, declarant: ready(session, declarant, impexp_markcd=ImpExp.IMPORT),  # goods coming in
    ],
    ids=["theirs", "rejected", "deleted", "deducted", "other_direction"],
)
def test_a_pass_covers_only_live_bonded_lists_of_yours_going_its_way(client, auth_headers, session, declarant, make):
    bonded_list = make(session, declarant)

    response = declare(client, auth_headers(declarant), make_vehicle(session), [bonded_list])

    assert response.status_code == 422
    assert "bonded_list_ids" in response.json["errors"]["json"]


def test_a_checkpoint_registered_pass_still_needs_no_list(client, auth_headers, session, declarant, officer):
    declared = declare(
        client,
        auth_headers(declarant),
        make_vehicle(session),
        [],
        passport_type="checkpoint_registered",
        bind_type="one_list_one_vehicle",
    )

    assert declared.status_code == 201
    assert (declared.json["declarations"], declared.json["bonded_lists"]) == ([], [])


# At the gate


def test_the_only_vehicle_on_a_list_passing_the_gate_deducts_it(
    client, auth_headers, session, gate, gate_operator, declarant, admin
):
    bonded_list = ready(session, declarant)
    gate_pass = make_gate_pass(session, declarant=declarant, bonded_lists=[bonded_list])
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate)
    decided = weigh(client, ops, arrived.json["id"], "10000")

    assert decided.json["status"] == "auto_cleared"
    read = client.get(f"{LISTS}/{bonded_list.id}", headers=auth_headers(declarant)).json
    assert (read["deduction_mark"], read["deducted_at"] is not None) == ("deducted", True)
    [event] = client.get(
        "/api/v1/admin/audit-events",
        query_string={"action": "bonded_list.deducted", "target_id": str(bonded_list.id)},
        headers=auth_headers(admin),
    ).json["items"]
    assert event["details"]["bond_invt_no"] == bonded_list.bond_invt_no


def test_a_list_on_several_vehicles_is_deducted_when_the_last_one_passes(
    client, auth_headers, session, gate, gate_operator, declarant
):
    bonded_list = ready(session, declarant)
    first, second = (
        make_gate_pass(
            session, declarant=declarant, bonded_lists=[bonded_list], bind_type=BindType.ONE_LIST_MANY_VEHICLES
        )
        for _ in range(2)
    )
    ops, mine = auth_headers(gate_operator), auth_headers(declarant)

    weigh(client, ops, arrive(client, ops, gate, first.plate).json["id"], "10000")
    after_first = deduction(client, mine, bonded_list)
    # The second is referred (overweight) and cleared by the operator: the decision deducts as well.
    referred = weigh(client, ops, arrive(client, ops, gate, second.plate).json["id"], "11000")
    after_referral = deduction(client, mine, bonded_list)
    decide(client, ops, referred.json["id"], "clear", "weighbridge_error")

    assert after_first == after_referral == "not_deducted"
    assert deduction(client, mine, bonded_list) == "deducted"


def test_voiding_the_pass_a_list_still_waited_for_deducts_it(
    client, auth_headers, session, gate, gate_operator, declarant
):
    bonded_list = ready(session, declarant)
    passed = make_gate_pass(
        session, declarant=declarant, bonded_lists=[bonded_list], bind_type=BindType.ONE_LIST_MANY_VEHICLES
    )
    unused = make_gate_pass(
        session, declarant=declarant, bonded_lists=[bonded_list], bind_type=BindType.ONE_LIST_MANY_VEHICLES
    )
    ops, mine = auth_headers(gate_operator), auth_headers(declarant)
    weigh(client, ops, arrive(client, ops, gate, passed.plate).json["id"], "10000")

    voided = client.post(f"{PASSES}/{unused.id}/void", headers=mine)

    assert voided.json["status"] == "voided"
    assert deduction(client, mine, bonded_list) == "deducted"


def test_a_vehicle_past_only_the_first_barrier_does_not_deduct(client, auth_headers, session, gate_operator, declarant):
    gate = make_gate(session, lanes=[(LaneType.GENERAL, Direction.OUT)])
    gate.lanes[0].dual_gate = True
    bonded_list = ready(session, declarant)
    gate_pass = make_gate_pass(session, declarant=declarant, bonded_lists=[bonded_list])
    ops, mine = auth_headers(gate_operator), auth_headers(declarant)

    weigh(client, ops, arrive(client, ops, gate, gate_pass.plate).json["id"], "10000")
    between = deduction(client, mine, bonded_list)
    weigh(client, ops, arrive(client, ops, gate, gate_pass.plate).json["id"], "10000")

    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == PassStatus.PASSED
    assert between == "not_deducted"
    assert deduction(client, mine, bonded_list) == "deducted"
