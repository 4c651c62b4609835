"""The benchmark harness still runs end to end, so later issues can rely on it (figures are not asserted)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.live import ROOT


@pytest.mark.skipif(shutil.which("wrk") is None and os.environ.get("CI") != "true", reason="wrk is not installed")
def test_bench_measures_the_app_and_the_baseline_in_alternating_rounds():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}  # its own SQLite file

    done = subprocess.run(
        [
            sys.executable,
            "scripts/bench.py",
            "--duration",
            "1",
            "--warmup",
            "1",
            "--connections",
            "2",
            "--rounds",
            "2",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["app"]["requests"] > 0 and report["baseline"]["requests"] > 0
    # The round with the median ratio (the lower of two) stands for the run.
    assert len(report["rounds"]) == 2
    assert report["ratios"] == min(report["rounds"], key=lambda round_: round_["rps"])
