import logging
import threading

from app.infra.workers import BackgroundLoops

log = logging.getLogger("tests.workers")


def test_loops_start_once_per_process_and_stop_joins_them():
    started = threading.Semaphore(0)
    loops = BackgroundLoops("test", log=log)

    def loop() -> None:
        started.release()
        loops.wait(3600)

    assert loops.start({"test-loop": loop})
    assert not loops.start({"test-loop": loop})
    assert started.acquire(timeout=5)
    loops.stop(timeout=5)

    assert not any(thread.name == "test-loop" for thread in threading.enumerate())
    assert not loops.start({"test-loop": loop})  # stopped for good


def test_a_failing_step_is_logged_and_tried_again(caplog):
    loops = BackgroundLoops("test", log=log)
    calls = []

    def step() -> float:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database restarted")
        loops.stop()
        return 0

    with caplog.at_level(logging.ERROR, logger="tests.workers"):
        loops.run(step, failure="step failed; trying again", retry_seconds=0)

    assert len(calls) == 2
    assert [record.getMessage() for record in caplog.records] == ["step failed; trying again"]


def test_stop_wakes_a_loop_blocked_elsewhere():
    woken = threading.Event()
    gate = threading.Event()
    loops = BackgroundLoops("test", log=log, wake=gate.set)

    def loop() -> None:
        gate.wait()
        woken.set()

    loops.start({"test-blocked": loop})
    loops.stop(timeout=5)

    assert woken.is_set()
