import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.common import clock
from app.idempotency.models import IdempotentRequest
from app.sync.actions import ACTIONS
from app.sync.schemas import ACTION_TYPES
from app.users.models import Role
from tests.factories import make_gate, make_user
from tests.gates.helpers import arrive, weigh
from tests.inspections.helpers import TASKS, book, timeline
from tests.trace.helpers import GTIN, make_setup

SYNC = "/api/v1/sync"


def action(type_, body, *, done_at=None, id_=None):
    done_at = done_at or datetime.now(UTC) - timedelta(hours=2)
    return {"id": str(id_ or uuid.uuid4()), "done_at": done_at.isoformat(), "type": type_, "body": body}


def scan(quantity="10", *, intact=True, **kwargs):
    body = {"seal_no": "SEAL-0001", "seal_intact": intact, "items": [{"gtin": GTIN, "quantity": quantity}]}
    return action("stock.scan_in", body, **kwargs)


def sync(client, headers, *actions):
    response = client.post(SYNC, json={"actions": list(actions)}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["results"]


def level(client, headers):
    items = client.get(f"/api/v1/stock?gtin={GTIN}", headers=headers).json["items"]
    return items[0]["quantity"] if items else None


def test_an_offline_scan_in_is_applied_at_the_time_it_was_done(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    done_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)

    [result] = sync(client, headers, scan(done_at=done_at))

    assert (result["outcome"], result["status"]) == ("applied", 201)
    assert datetime.fromisoformat(result["result"][0]["occurred_at"]) == done_at
    assert level(client, headers) == "10.0000"


def test_the_same_batch_sent_twice_is_applied_once(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    batch = [scan("10"), scan("5")]

    first = sync(client, headers, *batch)
    again = sync(client, headers, *batch)

    assert [r["outcome"] for r in first] == ["applied", "applied"]
    assert [r["outcome"] for r in again] == ["duplicate", "duplicate"]
    assert [r["first_outcome"] for r in again] == ["applied", "applied"]
    assert [r["result"] for r in again] == [r["result"] for r in first]
    assert level(client, headers) == "15.0000"


def test_one_refused_action_does_not_undo_the_others(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)

    results = sync(client, headers, scan("10"), scan("7", intact=False), scan("3"))

    assert [r["outcome"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["problem"]["code"] == "seal_broken"
    assert level(client, headers) == "13.0000"


def test_a_refusal_is_answered_again_as_a_duplicate(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    broken = scan(intact=False)

    sync(client, headers, broken)
    [again] = sync(client, headers, broken)

    assert (again["outcome"], again["first_outcome"], again["status"]) == ("duplicate", "rejected", 422)
    assert again["problem"]["code"] == "seal_broken"


def test_an_id_reused_for_another_action_is_rejected(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    id_ = uuid.uuid4()
    sync(client, headers, scan("10", id_=id_))

    [result] = sync(client, headers, scan("99", id_=id_))

    assert (result["outcome"], result["problem"]["code"]) == ("rejected", "idempotency_key_reused")
    assert level(client, headers) == "10.0000"


def test_the_same_client_id_from_another_user_is_their_own(client, session, auth_headers):
    setup = make_setup(session)
    colleague = make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=setup.operator.enterprise)
    id_ = uuid.uuid4()

    sync(client, auth_headers(setup.operator), scan("10", id_=id_))
    [result] = sync(client, auth_headers(colleague), scan("10", id_=id_))

    assert result["outcome"] == "applied"


def test_actions_too_old_or_in_the_future_are_rejected_naming_the_time(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    now = datetime.now(UTC)

    old, future = sync(client, headers, scan(done_at=now - timedelta(hours=49)), scan(done_at=now + timedelta(hours=1)))

    for result in (old, future):
        assert (result["outcome"], result["status"]) == ("rejected", 422)
        assert "done_at" in result["problem"]["errors"]["json"]
    assert level(client, headers) is None


def test_a_body_the_route_would_refuse_is_rejected_naming_the_field(client, session, auth_headers):
    setup = make_setup(session)

    [result] = sync(client, auth_headers(setup.operator), action("stock.scan_in", {"seal_no": "S1", "items": []}))

    assert (result["outcome"], result["problem"]["code"]) == ("rejected", "validation_failed")
    assert {"seal_intact", "items"} <= set(result["problem"]["errors"]["json"])


def test_an_action_takes_the_roles_of_its_route(client, session, auth_headers):
    setup = make_setup(session)
    decision = action("gate.decision", {"passage_id": 1, "action": "turn_back", "reason_code": "no_valid_pass"})

    [result] = sync(client, auth_headers(setup.operator), decision)

    assert (result["outcome"], result["status"], result["problem"]["code"]) == ("rejected", 403, "forbidden")


def test_a_malformed_batch_is_refused_whole(client, session, auth_headers):
    setup = make_setup(session)
    bad = {**scan(), "done_at": "2026-01-01T10:00:00", "type": "stock.teleport"}

    response = client.post(SYNC, json={"actions": [bad]}, headers=auth_headers(setup.operator))

    assert response.status_code == 422
    assert {"done_at", "type"} <= set(response.json["errors"]["json"]["actions"]["0"])


def test_a_batch_is_at_most_200_actions(client, session, auth_headers):
    setup = make_setup(session)

    response = client.post(SYNC, json={"actions": [scan()] * 201}, headers=auth_headers(setup.operator))

    assert response.status_code == 422


def test_an_offline_inspection_keeps_its_times_on_the_timeline(
    client, session, auth_headers, task, slot, declarant, operator, officer
):
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200
    hours_ago = [datetime.now(UTC).replace(microsecond=0) - timedelta(hours=h) for h in (3, 2, 1)]
    ready, started, found = hours_ago

    [staged] = sync(
        client, auth_headers(operator), action("inspection.goods_ready", {"task_id": task.id}, done_at=ready)
    )
    results = sync(
        client,
        auth_headers(officer),
        action("inspection.start", {"task_id": task.id}, done_at=started),
        action("inspection.result", {"task_id": task.id, "result": "normal"}, done_at=found),
    )

    assert staged["outcome"] == "applied"
    assert [r["outcome"] for r in results] == ["applied", "applied"]
    assert results[1]["result"]["status"] == "result_normal"
    steps = {e["step"]: e["occurred_at"] for e in timeline(client, auth_headers(declarant), task.declaration_id)}
    assert datetime.fromisoformat(steps["inspection_goods_ready"]) == ready
    assert datetime.fromisoformat(steps["inspection_started"]) == started
    assert datetime.fromisoformat(steps["inspection_result"]) == found


def test_a_conflicting_inspection_step_answers_the_tasks_state(client, session, auth_headers, task, officer):
    [result] = sync(
        client, auth_headers(officer), action("inspection.result", {"task_id": task.id, "result": "normal"})
    )

    assert (result["outcome"], result["status"]) == ("conflict", 409)
    assert result["problem"]["code"] == "invalid_transition"
    assert result["problem"]["current"]["status"] == task.status.value
    assert client.get(f"{TASKS}/{task.id}", headers=auth_headers(officer)).json["result"] is None


def test_an_offline_gate_decision_is_applied_once(client, session, auth_headers, gate_operator):
    gate = make_gate(session)
    ops = auth_headers(gate_operator)
    passage_id = arrive(client, ops, gate, "渝C12345").json["id"]
    weigh(client, ops, passage_id, "5000")
    done_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    body = {"passage_id": passage_id, "action": "turn_back", "reason_code": "no_valid_pass"}
    clear = action("gate.decision", {**body, "action": "clear", "reason_code": "documents_verified"})

    refused, turned = sync(client, ops, clear, action("gate.decision", body, done_at=done_at))

    assert (refused["outcome"], refused["problem"]["current"]["status"]) == ("conflict", "referred")
    assert turned["result"]["status"] == "turned_back"
    assert datetime.fromisoformat(turned["result"]["decided_at"]) == done_at


def test_an_offline_code_status_change_is_applied(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serials = client.post(
        "/api/v1/trace-codes",
        json={"declaration_id": setup.declaration.id, "gnum": 1, "quantity": 2},
        headers=headers,
    ).json["codes"]
    change = action("trace.status_change", {"status": "affixed", "serials": [c["serial"] for c in serials]})

    [applied] = sync(client, headers, change)
    [again] = sync(client, headers, change)

    assert applied["result"] == {"status": "affixed", "changed": 2}
    assert again["outcome"] == "duplicate"


def test_every_action_type_offered_has_a_use_case():
    assert set(ACTIONS) == set(ACTION_TYPES)


def test_stored_answers_outlive_the_sync_window_whatever_the_purge_is_told(app, session, declarant, monkeypatch):
    """An action may arrive up to SYNC_WINDOW_HOURS after it was done: its stored answer must still be there, or a
    batch resent late would be applied twice. Here the window is 72 hours."""
    monkeypatch.setitem(
        app.extensions, "settings", replace(app.extensions["settings"], sync_window=timedelta(hours=72))
    )
    now = clock.utcnow()
    for key, age in (("sync:recent", timedelta(hours=50)), ("sync:stale", timedelta(hours=80))):
        session.add(
            IdempotentRequest(
                user_id=declarant.id,
                key=key,
                request_hash="0" * 64,
                status_code=200,
                response_body=b"{}",
                created_at=now - age,
            )
        )
    session.flush()

    result = app.test_cli_runner().invoke(args=["idempotency", "purge", "--hours", "1"])

    assert result.exit_code == 0, result.output
    kept = session.scalars(select(IdempotentRequest.key).where(IdempotentRequest.user_id == declarant.id)).all()
    assert kept == ["sync:recent"]
