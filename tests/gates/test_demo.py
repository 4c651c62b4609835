from sqlalchemy import select

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
    assert [gate_pass.status for gate_pass in passes] == [PassStatus.APPROVED, PassStatus.DECLARED]
    assert [declaration.cop_no for declaration in passes[0].declarations] == ["DEMO-0004"]
