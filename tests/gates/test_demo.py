from sqlalchemy import select

from app.bonded_lists.models import BondedList, EntryStatus, InvtStatus
from app.gates.models import Gate, GatePass, LaneType, PassStatus


def test_seed_demo_adds_a_gate_with_every_lane_type_and_passes_once(app, session):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])

    assert first.exit_code == second.exit_code == 0, first.output
    gate = session.scalar(select(Gate).where(Gate.code == "XY-KK01"))
    assert {(lane.lane_type, lane.direction.value) for lane in gate.lanes} == {
        (lane_type, direction) for lane_type in LaneType for direction in ("in", "out")
    }
    passes = list(session.scalars(select(GatePass).order_by(GatePass.id)))
    # The last is the demo export container's, passed on its way to the port (app/demo_exports.py).
    assert [gate_pass.status for gate_pass in passes] == [
        PassStatus.APPROVED,
        PassStatus.DECLARED,
        PassStatus.APPROVED,
        PassStatus.PASSED,
    ]
    assert [declaration.cop_no for declaration in passes[0].declarations] == ["DEMO-0004"]


def test_seed_demo_adds_an_approved_bonded_list_with_a_released_entry_and_a_pass_on_it_once(app, session):
    runner = app.test_cli_runner()

    runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])

    assert second.exit_code == 0, second.output
    [bonded_list] = session.scalars(select(BondedList))
    assert (bonded_list.invt_stucd, bonded_list.entry_stucd) == (InvtStatus.APPROVED, EntryStatus.RELEASED)
    [gate_pass] = session.scalars(select(GatePass).where(GatePass.plate == "渝A8C002"))
    assert gate_pass.status is PassStatus.APPROVED
    assert gate_pass.bonded_lists == [bonded_list]
