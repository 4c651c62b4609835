"""The home benchmark's own parts (no PostgreSQL, no gunicorn): the open-loop plan and its options."""

import sys
from collections import Counter

import pytest

from tests.live import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from bench_home import parse_args, plan_homes

from app.users.models import Role

# No database at all: once, on the SQLite pass, is enough.
pytestmark = pytest.mark.own_database


def test_the_plan_draws_roles_by_their_shares_and_each_role_s_users_in_turn():
    tokens = {Role.DECLARANT: ["d1", "d2", "d3"], Role.CUSTOMS_OFFICER: ["o1"], Role.GATE_OPERATOR: ["g1", "g2"]}
    mix = {Role.DECLARANT: 80.0, Role.CUSTOMS_OFFICER: 10.0, Role.GATE_OPERATOR: 10.0}

    plan = plan_homes(tokens, mix, 10_000, seed=3)

    shares = Counter(role for role, _ in plan)
    assert 7_700 < shares[Role.DECLARANT] < 8_300
    assert 800 < shares[Role.CUSTOMS_OFFICER] < 1_200
    declarants = [token for role, token in plan if role is Role.DECLARANT]
    assert declarants[:6] == ["d1", "d2", "d3", "d1", "d2", "d3"]
    assert plan == plan_homes(tokens, mix, 10_000, seed=3)


def test_the_mix_keeps_only_the_roles_measured_and_refuses_nonsense():
    args = parse_args(
        ["--roles", "declarant,customs_officer", "--mix", "declarant=3,customs_officer=1,gate_operator=1"]
    )
    assert args.mix == {Role.DECLARANT: 3.0, Role.CUSTOMS_OFFICER: 1.0}

    for wrong in (["--mix", "shopper=1"], ["--mix", "declarant"], ["--roles", "gate_operator", "--mix", "declarant=1"]):
        with pytest.raises(SystemExit) as exited:
            parse_args(wrong)
        assert exited.value.code == 2
