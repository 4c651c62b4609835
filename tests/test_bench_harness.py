"""The benchmark harness still runs end to end, so later issues can rely on it (figures are not asserted)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.live import ROOT

# Each run brings its own SQLite file (DATABASE_URL is taken out of its environment): once is enough.
pytestmark = pytest.mark.own_database

needs_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None and os.environ.get("CI") != "true", reason="wrk is not installed"
)
# Its own SQLite file, and the production rate limits the lookup target insists on.
ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in ("DATABASE_URL", "TRACE_RATE_LIMIT", "TRACE_UNKNOWN_RATE_LIMIT")
}


def bench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/bench.py", *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@needs_wrk
def test_the_lookup_target_replays_the_mixed_sequence_in_rounds_of_both_orders():
    done = bench(
        "--target", "lookup", "--codes", "2000", "--requests", "8000", "--duration", "1", "--warmup", "0",
        "--rounds", "2", "--connections", "2", "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    rounds = report["rounds"]
    assert [r["order"] for r in rounds] == [["app", "baseline"], ["baseline", "app"]]
    for entry in rounds:
        app = entry["app"]
        assert app["samples"] > 0 and entry["baseline"]["samples"] > 0
        assert app["p95_ms"] <= app["p99_ms"]
        # The mix answers pages and JSON, mistyped serials' 404s and link types' 307s, each as its line expects.
        assert app["status_classes"]["2xx"] > 0 and app["expected"] == "sequence"
        assert app["unexpected"] <= app["requests"] * 0.01
    # The app never sends a line twice: its rounds cover lines one after the other.
    first, second = (entry["app"]["lines"] for entry in rounds)
    assert first[1] <= second[0]
    summary = report["summary"]
    assert summary["ratio"]["min"] <= summary["ratio"]["median"] <= summary["ratio"]["max"]
    assert {"app_p95_ms", "app_p99_ms", "baseline_rps", "app_rate_limited_share"} <= summary.keys()
    assert report["settings"]["server_env"] == {"TRUSTED_PROXY_COUNT": "1"}
    assert {"cpus", "load_before", "load_after"} <= report["machine"].keys()


@needs_wrk
def test_the_table_prints_every_round():
    done = bench("--self-test", "--duration", "1", "--warmup", "0", "--rounds", "2", "--connections", "2")

    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split()[:2] for line in done.stdout.splitlines() if line[:1].isdigit()]
    assert rows == [["1", "AB"], ["2", "BA"]]
    assert "median" in done.stdout and "spread" in done.stdout


@needs_wrk
def test_gunicorn_threads_are_refused_under_gevent_workers():
    done = bench("--self-test", "--gunicorn-threads", "8", timeout=60)

    assert done.returncode == 2
    assert "gthread" in done.stderr


def test_the_request_sequence_is_the_same_on_every_run(tmp_path):
    script = (
        "import random, sys; sys.path.insert(0, 'scripts'); from pathlib import Path; import bench_sequence as s\n"
        "codes = [s.Code(serial, '06952061553763', None) for serial in s.make_serials(random.Random(1), 500)]\n"
        "s.write_sequence(Path(sys.argv[1]), codes, requests=2000, seed=1, addresses=300)\n"
    )
    files = []
    for hash_seed in ("1", "2"):  # string hashing differs between processes; the file must not
        out = tmp_path / f"run-{hash_seed}.seq"
        subprocess.run(
            [sys.executable, "-c", script, str(out)], cwd=ROOT, env={**ENV, "PYTHONHASHSEED": hash_seed}, check=True
        )
        files.append(out.read_bytes())

    assert files[0] == files[1]
    assert b"\t404\t" in files[0] and b"\t307\t" in files[0] and b"X-Forwarded-For: " in files[0]
