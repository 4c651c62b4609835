"""The instruction-count harness runs end to end; a stand-in valgrind keeps it fast (the real one takes minutes)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.live import ROOT

# Each run brings its own SQLite file (DATABASE_URL is taken out of its environment): once is enough.
pytestmark = pytest.mark.own_database

# Runs the measured command as valgrind would, then writes what callgrind ends its file with: a count that grows by
# 7 a request above a start-up cost, so the harness must find 7 for the app (3 for the baseline) by subtraction.
STAND_IN = textwrap.dedent(
    """\
    #!{python}
    import subprocess, sys
    args = sys.argv[1:]
    tool, out_file, *command = args  # --tool=callgrind --callgrind-out-file=F python script ...
    out = out_file.split("=", 1)[1]
    subprocess.run(command, check=True)
    requests = int(args[args.index("--requests") + 1])
    per_request = 7 if args[args.index("--drive") + 1] == "app" else 3
    with open(out, "w") as file:
        file.write(f"events: Ir\\nsummary: {{5_000_000 + per_request * requests}}\\n")
    """
)


def test_instructions_per_request_are_the_difference_of_two_counts(tmp_path):
    valgrind = tmp_path / "valgrind"
    valgrind.write_text(STAND_IN.format(python=sys.executable))
    valgrind.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}  # its own SQLite file
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"

    done = _harness(env, "--path", "/api/v1/me", "--requests", "5", "--json")

    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"path": "/api/v1/me", "app": 7, "baseline": 3, "app/baseline": 2.33}


def test_a_request_that_does_not_answer_200_stops_the_count(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}", JWT_SECRET="x" * 48)

    done = _harness(env, "--drive", "app", "--anonymous", "--path", "/api/v1/nothing")

    assert done.returncode != 0
    assert "GET /api/v1/nothing answered 404" in done.stderr


def _harness(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "scripts/bench_instructions.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


# As STAND_IN, for --mix: one numbered dump per mark the driver makes (callgrind's --dump-before), each counting 7
# for an app request (3 for the baseline), and 100 for the scan writes after the last request.
MIX_STAND_IN = textwrap.dedent(
    """\
    #!{python}
    import subprocess, sys
    args = sys.argv[1:]
    out = next(arg for arg in args if arg.startswith("--callgrind-out-file=")).split("=", 1)[1]
    command = args[next(i for i, arg in enumerate(args) if not arg.startswith("--")):]
    subprocess.run(command, check=True)
    measure = int(args[args.index("--measure") + 1])
    per_request = 7 if args[args.index("--drive") + 1] == "app" else 3
    counts = [5, *([per_request] * measure), 100]
    for number, count in enumerate(counts, start=1):
        with open(f"{{out}}.{{number}}", "w") as file:
            file.write(f"events: Ir\\nsummary: {{count}}\\n")
    """
)
SEQUENCE = (
    "# lines=3\n"
    "api/fresh\t404\tGET\t/api/v1/trace/codes/NOSUCHCODE2345AB\tAccept: application/json\tX-Forwarded-For: 10.0.0.1\n"
    "page/fresh\t404\tGET\t/01/04006381333931/21/NOSUCHCODE2345AB\tAccept: text/html\tX-Forwarded-For: 10.0.1.1\n"
    "resolver\t200\tGET\t/.well-known/gs1resolver\tX-Forwarded-For: 10.0.2.1\n"
)


def test_a_mix_is_counted_request_by_request_and_reported_per_kind(tmp_path):
    for name, text in (("valgrind", MIX_STAND_IN), ("callgrind_control", "#!/bin/sh\nexit 0\n")):
        tool = tmp_path / name
        tool.write_text(text.format(python=sys.executable))
        tool.chmod(0o755)
    sequence = tmp_path / "lookup.seq"
    sequence.write_text(SEQUENCE)
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"

    done = _harness(env, "--mix", str(sequence), "--warmup", "1", "--measure", "2", "--json")

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["kinds"]["page/fresh"]["statuses"] == {"404": 1}
    assert report["kinds"]["resolver"]["app_mean"] == 7
    assert report["kinds"]["resolver"]["baseline_mean"] == 3
    assert report["scan_writes_per_request"] == 50
    assert report["app"] == 57  # (7 + 7 + 100) / 2
    assert report["settings"]["TRUSTED_PROXY_COUNT"] == "1"
