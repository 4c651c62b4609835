from datetime import timedelta

from app.common import clock
from app.users.models import Role
from tests.factories import make_gate_pass, make_user
from tests.gates.helpers import arrive, decide, weigh

FIGURES = "/api/v1/gate/figures"


def test_figures_per_gate_and_lane(client, auth_headers, session, gate, gate_operator):
    ops = auth_headers(gate_operator)
    for kg in ("10000", "10100", "12000"):
        passage = arrive(client, ops, gate, make_gate_pass(session).plate).json
        decided = weigh(client, ops, passage["id"], kg).json
    decide(client, ops, decided["id"], "turn_back", "weight_discrepancy")
    now = clock.utcnow()
    query = {"since": (now - timedelta(hours=2)).isoformat(), "until": (now + timedelta(hours=2)).isoformat()}

    response = client.get(
        FIGURES, query_string={**query, "gate_id": gate.id}, headers=auth_headers(make_user(session, role=Role.ADMIN))
    )

    assert response.status_code == 200
    [figures] = response.json["gates"]
    assert figures["vehicles"] == 3
    assert figures["vehicles_per_hour"] == 0.75
    assert figures["auto_cleared_share"] == 2 / 3
    assert figures["median_decision_seconds"] >= 0
    assert figures["top_referral_reasons"] == [{"reason": "weight_out_of_tolerance", "count": 1}]
    general = next(lane for lane in figures["lanes"] if lane["lane_type"] == "general" and lane["direction"] == "out")
    assert general["vehicles"] == 3
    assert sum(lane["vehicles"] for lane in figures["lanes"]) == 3


def test_figures_cover_at_most_a_month(client, auth_headers, session):
    now = clock.utcnow()
    query = {"since": (now - timedelta(days=40)).isoformat(), "until": now.isoformat()}

    response = client.get(FIGURES, query_string=query, headers=auth_headers(make_user(session, role=Role.ADMIN)))

    assert response.status_code == 422
    assert "until" in response.json["errors"]["query"]


def test_gate_operators_do_not_read_figures(client, auth_headers, gate_operator):
    now = clock.utcnow()
    query = {"since": (now - timedelta(days=1)).isoformat(), "until": now.isoformat()}

    assert client.get(FIGURES, query_string=query, headers=auth_headers(gate_operator)).status_code == 403
