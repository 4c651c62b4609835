from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.live import call, live_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("live"), LOGIN_RATE_LIMIT="1000 per minute") as running:
        yield running


def test_a_demo_declarant_signs_in_and_reads_their_profile(server):
    status, tokens = server.login()
    assert status == 200

    status, me = call(f"{server.base}/api/v1/me", token=tokens["access_token"])

    assert status == 200
    assert me["username"] == "declarant"
    assert me["enterprise"]["name"]


def test_the_live_server_is_ready_and_serves_its_docs(server):
    assert call(f"{server.base}/readyz") == (200, {"status": "ready", "database": "ok"})
    status, spec = call(f"{server.base}/api/v1/openapi.json")
    assert status == 200 and spec["info"]["title"] == "Smart Park API"


def test_of_parallel_refreshes_with_one_token_exactly_one_wins_and_the_family_ends(server):
    _, tokens = server.login()

    def refresh(_):
        return call(f"{server.base}/api/v1/auth/refresh", body={"refresh_token": tokens["refresh_token"]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(refresh, range(8)))

    winners = [body for status, body in answers if status == 200]
    assert len(winners) == 1
    assert {body["code"] for status, body in answers if status != 200} <= {"refresh_token_reused", "session_revoked"}
    assert call(f"{server.base}/api/v1/me", token=winners[0]["access_token"])[0] == 401


def test_parallel_logins_keep_the_audit_chain_linear(server):
    users = ["admin", "declarant", "declarant2", "warehouse", "officer", "gate", "gateway"]

    with ThreadPoolExecutor(max_workers=7) as pool:
        statuses = [status for status, _ in pool.map(server.login, users * 3)]

    assert statuses == [200] * len(statuses)
    verified = server.flask("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
