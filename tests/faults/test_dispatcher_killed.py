"""kill -9 of the push dispatcher (`flask notices dispatch`) mid-delivery, with the stand-in providers receiving.

After a restart every notice reaches every device at least once and the outbox is drained. Duplicates are what the
design allows (docs: /work/shared/notes/push-delivery.md, app/notices/outbox.py): only pushes of the batch the dead
dispatcher had claimed go again, once more, with the same notice id for the app to drop.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter

from sqlalchemy import create_engine, text

from tests.faults.helpers import kill_9, submit_declarations
from tests.live import BIN, ROOT, call, live_server, send_receipt
from tests.notices.test_live_delivery import register_device, wait_until
from tests.standins import StandIns

DECLARATIONS = 12
BATCH = 6


def start_dispatcher(server, standins: StandIns, log_path) -> subprocess.Popen[bytes]:
    env = {**server.env, **standins.env()}
    with log_path.open("a") as log:
        return subprocess.Popen(
            [
                *(BIN / "flask", "notices", "dispatch", "--lease-seconds", "2", "--idle-seconds", "0.1"),
                *("--batch-size", str(BATCH), "--concurrency", "3"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )


def test_a_dispatcher_killed_mid_delivery_loses_no_push_and_repeats_only_its_claimed_batch(tmp_path):
    phones = ["slow-fault-phone-0001", "slow-fault-tablet-0002"]
    with StandIns(tmp_path) as standins, live_server(tmp_path, LOGIN_RATE_LIMIT="1000 per minute") as server:
        declarant = server.login("declarant")[1]["access_token"]
        gateway = server.login("gateway")[1]["access_token"]
        for index, token in enumerate(phones):
            register_device(server, declarant, f"fault-device-{index}", token)
        start = call(f"{server.base}/api/v1/notices?after_seq=0&limit=200", token=declarant)[1]["next_after_seq"]
        # The app acknowledges what it caught up on. The demo's own urgent notices would otherwise fall due for their
        # reminders (pushes 2 and 5 minutes after the seed, then a text) and reach these phones besides the notices
        # counted here.
        assert call(f"{server.base}/api/v1/notices/ack", body={"up_to_seq": start}, token=declarant)[0] == 200
        for declaration in submit_declarations(server, declarant, DECLARATIONS):
            assert send_receipt(server, gateway, declaration["guid"], 120) == "applied"
        notices = call(f"{server.base}/api/v1/notices?after_seq={start}&limit=200", token=declarant)[1]["items"]
        assert len(notices) == DECLARATIONS

        # Each push is answered only after a while: the kill lands with sends in flight, claimed and not recorded.
        standins.jpush.slow_seconds = 0.4
        log_path = tmp_path / "dispatcher.log"
        dispatcher = start_dispatcher(server, standins, log_path)
        wait_until(lambda: _pushes(standins, phones) >= BATCH + 2, timeout=30, what="the second batch to be sending")
        kill_9(dispatcher.pid)
        dispatcher.wait(timeout=10)
        at_kill = _pushes(standins, phones)

        standins.jpush.slow_seconds = 0
        engine = create_engine(server.env["DATABASE_URL"])
        dispatcher = start_dispatcher(server, standins, log_path)
        try:
            wait_until(lambda: _pending(engine) == 0, timeout=40, what="the outbox to drain after the restart")
        finally:
            dispatcher.send_signal(signal.SIGTERM)
            dispatcher.wait(timeout=20)
        with engine.connect() as connection:
            states = Counter(connection.scalars(text("SELECT state FROM notice_deliveries")))
        engine.dispose()

    assert at_kill < DECLARATIONS * len(phones), "the dispatcher had finished before the kill: nothing was in flight"
    assert states == {"sent": DECLARATIONS * len(phones)}
    received = Counter(
        (entry.token, entry.request.json()["notification"]["android"]["extras"]["notice_id"])
        for token in phones
        for entry in standins.jpush.received_for(token)
    )
    # Nothing lost: every notice reached every device.
    assert set(received) == {(token, notice["id"]) for token in phones for notice in notices}
    # Duplicates only from the batch in hand at the kill, and each at most once more.
    repeated = {pair for pair, count in received.items() if count > 1}
    assert 0 < len(repeated) <= BATCH, received
    assert max(received.values()) == 2


def _pushes(standins: StandIns, tokens: list[str]) -> int:
    return sum(len(standins.jpush.received_for(token)) for token in tokens)


def _pending(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM notice_deliveries WHERE state = 'pending'"))
