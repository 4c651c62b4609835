"""The notice benchmarks still run end to end, tiny, on the suite's database server (figures are not asserted
against targets: only that every report is complete and its numbers are sane)."""

import json
import subprocess
import sys
import uuid

from sqlalchemy import make_url

from tests.databases import configured_url, is_postgres
from tests.live import ROOT


def run_bench(script: str, *args: str) -> dict:
    """Run a benchmark script, on a scratch PostgreSQL database of its own when the suite runs on PostgreSQL."""
    url = configured_url()
    if is_postgres(url):
        scratch = make_url(url).set(database=f"bench_smoke_{uuid.uuid4().hex[:12]}")
        args = (*args, "--database-url", scratch.render_as_string(hide_password=False))
    done = subprocess.run(
        [sys.executable, f"scripts/{script}", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_stream_bench_times_every_notice_on_every_stream():
    report = run_bench(
        "bench_stream.py",
        *("--streams", "6", "--users-per-enterprise", "2", "--rate", "20", "--per-document", "4"),
        *("--connections", "1", "--step-gap", "0.1", "--duration", "3", "--warmup", "0.5"),
    )

    decisions = report["decisions"]
    assert decisions["receipts"] == 60 and decisions["not_applied"] == decisions["stale"] == 0
    assert decisions["missing"] == decisions["duplicates"] == decisions["unexpected"] == 0
    # 16 declarations: 16 accepted and 12 released by the end, on 3 enterprises of 2 streams each.
    assert decisions["notices_owed"] == 2 * 28
    assert decisions["latency"]["count"] + decisions["warmup_notices"] == decisions["notices_owed"]
    latency = decisions["latency"]
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"] < 5000
    assert 0 < decisions["document_post"]["p50_ms"] <= decisions["document_post"]["max_ms"]
    streams = report["streams"]
    assert streams["open"] == streams["still_connected"] == 6 and streams["silent"] == 0
    assert streams["notices_per_stream"]["min"] > 0
    assert report["memory"]["worker_rss_kib_with_streams"] > report["memory"]["worker_rss_kib_before_streams"] > 0
    assert report["cpu"]["workers_s"] > 0 and report["cpu"]["client_loop_lag_max_ms"] >= 0
    assert set(report["target"]) == {"p99_ms_at_most", "met"}
    assert report["settings"]["workers"] == 1 and report["settings"]["redis"] is False


def test_stream_bench_holds_streams_that_hear_heartbeats():
    report = run_bench("bench_stream.py", "--streams", "4", "--hold-only", "--hold", "2.5", "--heartbeat-seconds", "1")

    streams = report["streams"]
    assert streams["open"] == streams["still_connected"] == 4
    assert streams["heartbeats_per_stream"]["min"] >= 1 and streams["silent"] == 0
    assert "decisions" not in report and report["settings"]["mode"] == "hold-only"
    assert report["memory"]["worker_rss_kib_with_streams"] > 0


def test_dispatch_bench_sends_every_queued_push_and_measures_the_adapters_alone():
    report = run_bench("bench_dispatch.py", "--devices", "8", "--users", "4", "--pushes", "200", "--concurrency", "4")

    assert report["queued"] == 200
    dispatcher = report["dispatcher"]
    assert dispatcher["by_state"] == {"sent": 200}
    assert dispatcher["pushes_per_s"] > 0 and dispatcher["elapsed_s"] > 0
    assert 0 < dispatcher["created_to_sent"]["p50_ms"] <= dispatcher["created_to_sent"]["p99_ms"]
    assert report["baseline_adapters_only"]["sent"] == 200
    assert report["dispatcher_share_of_baseline"] > 0
