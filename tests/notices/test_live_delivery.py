"""Notice delivery as it runs in production: gunicorn with gevent workers, PostgreSQL, Redis, the dispatcher
process and (stand-in) push providers, all on loopback."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from sqlalchemy import create_engine, text

from tests.live import BIN, ROOT, EventStream, call, live_server, own_redis, send_receipt, submit_declaration
from tests.standins import StandIns


def register_device(server, token: str, device_id: str, push_token: str) -> None:
    status, body = call(
        f"{server.base}/api/v1/devices/{device_id}",
        method="PUT",
        token=token,
        body={
            "platform": "android",
            "provider": "jpush",
            "token": push_token,
            "app_version": "2.3.0",
            "os_version": "14",
            "push_permission": True,
        },
    )
    assert status in (200, 201), body


def start_dispatcher(server, standins: StandIns, log_path) -> subprocess.Popen[bytes]:
    env = {**server.env, **standins.env()}
    with log_path.open("a") as log:
        return subprocess.Popen(
            [BIN / "flask", "notices", "dispatch", "--lease-seconds", "2", "--idle-seconds", "0.1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )


def wait_until(predicate, *, timeout: float = 15.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_embedded_service_streams_decisions_without_redis(tmp_path):
    # One gevent worker, no Redis: on SQLite this is what scripts/run.sh serves.
    with live_server(tmp_path, STREAM_HEARTBEAT_SECONDS="1") as server:
        declarant = server.login("declarant")[1]["access_token"]
        gateway = server.login("gateway")[1]["access_token"]
        declaration = submit_declaration(server, declarant, "EMBED0001")
        latest = call(f"{server.base}/api/v1/notices?after_seq=0&limit=200", token=declarant)[1]["next_after_seq"]
        stream = EventStream(server.base, declarant, last_event_id=latest)
        try:
            assert send_receipt(server, gateway, declaration["guid"], 120) == "applied"
            event = stream.next()
            # A REST call while the stream is open: the stream does not hold the only worker.
            assert call(f"{server.base}/api/v1/me", token=declarant)[0] == 200
        finally:
            stream.close()

    assert event.seq > latest
    assert (event.data["kind"], event.data["declaration_id"]) == ("declaration.accepted", declaration["id"])


def test_a_recycled_worker_ends_its_streams_at_once_and_the_app_resumes_on_its_replacement(tmp_path):
    # The only worker, recycled a few requests after the stream opens. It used to stop accepting and then wait
    # out its 20 s graceful timeout for the stream, so the whole service answered nobody for that long.
    with live_server(tmp_path, GUNICORN_MAX_REQUESTS="12", STREAM_HEARTBEAT_SECONDS="1") as server:
        declarant = server.login("declarant")[1]["access_token"]
        latest = call(f"{server.base}/api/v1/notices?after_seq=0&limit=200", token=declarant)[1]["next_after_seq"]
        stream = EventStream(server.base, declarant, last_event_id=latest)
        try:
            started = time.monotonic()
            answers = []
            while not stream.ended.is_set() and time.monotonic() - started < 30:
                answers.append(call(f"{server.base}/healthz")[0])
                time.sleep(0.1)
            ended_after = time.monotonic() - started
            # The app reconnects with its last id and is served by the replacement.
            resumed = EventStream(server.base, declarant, last_event_id=latest)
            resumed.close()
        finally:
            stream.close()
        log = (tmp_path / "gunicorn.log").read_text()

    assert "Autorestarting worker" in log
    assert "Worker graceful timeout" not in log
    assert ended_after < 8, f"the stream stayed open {ended_after:.1f} s into the recycling"
    assert set(answers) == {200}


@pytest.mark.postgres_only
def test_decisions_reach_the_open_stream_and_the_phone_through_reconnects_and_crashes(tmp_path):
    with (
        own_redis(tmp_path) as redis_server,
        StandIns(tmp_path) as standins,
        live_server(
            tmp_path,
            REDIS_URL=redis_server.url,
            WEB_CONCURRENCY="2",
            STREAM_HEARTBEAT_SECONDS="1",
            STREAM_POLL_SECONDS="0.2",
        ) as server,
    ):
        declarant = server.login("declarant")[1]["access_token"]
        gateway = server.login("gateway")[1]["access_token"]
        phone, dead_tablet = "slow-e2e-phone-0001", "dead-e2e-tablet-0001"
        register_device(server, declarant, "e2e-phone-0001", phone)
        register_device(server, declarant, "e2e-tablet-0001", dead_tablet)
        declarations = [submit_declaration(server, declarant, f"E2E{index:04d}") for index in range(3)]
        caught_up = call(f"{server.base}/api/v1/notices?after_seq=0&limit=200", token=declarant)[1]
        start_seq = caught_up["next_after_seq"]

        # An open app hears of the decision at once.
        stream = EventStream(server.base, declarant, last_event_id=start_seq)
        decided_at = time.monotonic()
        assert send_receipt(server, gateway, declarations[0]["guid"], 120) == "applied"
        first = stream.next()
        stream.close()
        assert first.data["kind"] == "declaration.accepted"
        assert first.data["declaration_id"] == declarations[0]["id"]
        assert first.received_at - decided_at < 2.0

        # Two decisions while the app is away; the reconnect brings exactly those two.
        for declaration in declarations[1:]:
            assert send_receipt(server, gateway, declaration["guid"], 120) == "applied"
        again = EventStream(server.base, declarant, last_event_id=first.seq)
        resumed = [again.next(), again.next()]
        assert [event.data["declaration_id"] for event in resumed] == [d["id"] for d in declarations[1:]]
        assert first.seq < resumed[0].seq < resumed[1].seq
        assert again.nothing_more()

        # Redis goes away: the workers fall back to polling the database, and the stream still delivers.
        redis_server.kill()
        redis_server.wait(timeout=10)
        assert send_receipt(server, gateway, declarations[0]["guid"], 800) == "applied"
        released = again.next(timeout=10)
        again.close()
        assert released.data["kind"] == "declaration.released"
        everything = call(f"{server.base}/api/v1/notices?after_seq={start_seq}", token=declarant)[1]["items"]
        assert [item["seq"] for item in everything] == [first.seq, *(e.seq for e in resumed), released.seq]

        # The dispatcher dies between sending a push and recording it: the push goes again, same notice id.
        standins.jpush.slow_seconds = 3
        dispatcher_log = tmp_path / "dispatcher.log"
        dispatcher = start_dispatcher(server, standins, dispatcher_log)
        wait_until(lambda: standins.jpush.received_for(phone), what="the first push to the phone")
        dispatcher.send_signal(signal.SIGKILL)
        dispatcher.wait(timeout=10)
        crashed_pushes = {_notice_id(entry) for entry in standins.jpush.received_for(phone)}
        standins.jpush.slow_seconds = 0

        dispatcher = start_dispatcher(server, standins, dispatcher_log)
        try:
            engine = create_engine(server.env["DATABASE_URL"])
            wait_until(
                lambda: _pending_deliveries(engine) == 0, timeout=30, what="every delivery settled after the restart"
            )
        finally:
            dispatcher.send_signal(signal.SIGTERM)
            dispatcher.wait(timeout=20)
        pushes_to_phone = [_notice_id(entry) for entry in standins.jpush.received_for(phone)]
        assert crashed_pushes <= set(pushes_to_phone)
        assert any(pushes_to_phone.count(notice_id) >= 2 for notice_id in crashed_pushes), pushes_to_phone
        notice_ids = {item["id"] for item in everything}
        assert notice_ids <= set(pushes_to_phone)

        # The tablet's token is dead: its device is invalidated and gets no more pushes.
        with engine.connect() as connection:
            states = dict(
                connection.execute(
                    text(
                        "SELECT d.token, string_agg(DISTINCT n.state, ',') FROM notice_deliveries n "
                        "JOIN devices d ON d.id = n.device_id GROUP BY d.token"
                    )
                ).all()
            )
        engine.dispose()
        assert states == {phone: "sent", dead_tablet: "invalid_token"}
        devices = call(f"{server.base}/api/v1/devices", token=declarant)[1]["items"]
        tablet = next(device for device in devices if device["device_id"] == "e2e-tablet-0001")
        assert tablet["invalidated_at"] is not None


def _notice_id(entry) -> str:
    body = entry.request.json()
    return body["notification"]["android"]["extras"]["notice_id"]


def _pending_deliveries(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM notice_deliveries WHERE state = 'pending'"))
