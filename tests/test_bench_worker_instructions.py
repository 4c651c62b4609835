"""The whole-worker instruction count's pure parts: the runs it plans and its report (valgrind takes minutes)."""

import argparse
import sys

from tests.live import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import bench_worker_instructions as harness


def test_variants_run_the_app_unless_named_baseline():
    args = harness.parse_args(
        ["--path", "/x", "--variant", "quiet:BENCH_NO_ACCESS_LOG=1", "--variant", "baseline-quiet:A=1,B=2"]
    )

    assert harness.runs(args) == [
        ("app", "app", {}),
        ("baseline", "baseline", {}),
        ("quiet", "app", {"BENCH_NO_ACCESS_LOG": "1"}),
        ("baseline-quiet", "baseline", {"A": "1", "B": "2"}),
    ]


def test_the_report_gives_the_ratio_the_counts_would_give():
    figures = {"per_request_less_idle": 1, "idle_per_second": 0}
    report = {"app": {"per_request": 2_000_000, **figures}, "baseline": {"per_request": 1_250_000, **figures}}

    text = harness.render(report, argparse.Namespace(path="/x", requests=10, connections=2))

    assert "app                      2,000,000 instructions a request" in text
    assert "baseline/app 0.625" in text
