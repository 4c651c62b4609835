"""The bulk benchmark (scripts/bench_issue.py) still runs end to end, tiny, on a SQLite file of its own; its
figures are not held against the targets here, only checked complete and consistent."""

import json
import os
import subprocess
import sys

from tests.live import ROOT


def test_issue_bench_issues_every_code_and_imports_every_product_once():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "scripts/bench_issue.py", "--codes", "1500", "--batch", "1000", "--products", "300"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["issue"]["codes"] == 1500 and report["issue"]["requests"] == 2
    assert report["issue"]["baseline_seconds"] > 0 and report["issue"]["ratio"] > 0
    assert (report["import"]["created"], report["import"]["rejected"]) == (300, 0)
    assert (report["import_again"]["unchanged"], report["import_again"]["created"]) == (300, 0)
