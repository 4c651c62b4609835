"""Instructions per request over a request mix (``bench_instructions.py --mix``): every request counted by itself.

The mix is a request-sequence file as ``bench_sequence.py`` writes it (``bench_data.py lookup``): one request a
line, tab-separated kind, expected status, method, path and ``Name: value`` headers; ``#`` lines are metadata.
Each kind ("api/fresh", "page/repeated" ...) is a row of the report.

The mix is replayed in order, in-process, under callgrind: the first ``--warmup`` requests unmeasured (and
uninstrumented, so they run many times faster: the driver then waits until ``callgrind_control`` switches
instrumentation on), then
``--measure`` requests, and before each of them the driver calls ``os.getppid()``, on which callgrind dumps its
counters (``--dump-before=getppid``). Each dump then holds one request's instructions, nothing of start-up and
nothing of the others: the report gives each kind's mean and median, and the mix's mean. The counted lookups the
measured requests queued are written after the last request, 500 to a batch as under steady load, and that dump is
reported as the scan writer's share, spread over every measured request in the mix's mean.

Rate limits, proxies and clock are the app's own: run with the production limits and ``TRUSTED_PROXY_COUNT=1``
(the mix's addresses arrive in X-Forwarded-For). A request answered 5xx stops the count; every answer's status is
reported per kind, so 404s and 429s can be judged against what the mix asked for.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench

# The driver's mark between requests: a libc call nothing else in the process makes.
SENTINEL = "getppid"
READY = "@@warm@@"
HEADER_BYTES = 4096


@dataclass(frozen=True)
class MixRequest:
    kind: str
    expect: int
    method: str
    path: str
    headers: dict[str, str]


def load_mix(path: Path, count: int) -> list[MixRequest]:
    """The first `count` requests of the sequence file."""
    requests = []
    with path.open() as file:
        for line in file:
            if len(requests) == count:
                break
            if line.startswith("#") or not line.strip():
                continue
            kind, expect, method, target, *headers = line.rstrip("\n").split("\t")
            requests.append(
                MixRequest(
                    kind=kind,
                    expect=int(expect),
                    method=method,
                    path=target,
                    headers=dict(header.split(": ", 1) for header in headers),
                )
            )
    if len(requests) < count:
        raise bench.BenchError(f"{path} holds {len(requests)} requests; warm-up and measure need {count}")
    return requests


def environ_headers(headers: dict[str, str]) -> dict[str, str]:
    """HTTP headers as WSGI environ keys (Content-Type and Content-Length have no HTTP_ prefix)."""
    environ = {}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


def drive(app: Any, call: Any, requests: list[MixRequest], *, warmup: int, recorder: Any) -> None:
    """Replay the mix (under callgrind): warm-up, then one dump mark before each measured request, one before the
    scan writes, one after them. Prints each measured request's kind and status as JSON on stdout."""
    prepared = [(request, environ_headers(request.headers)) for request in requests]
    for request, headers in prepared[:warmup]:
        _answer(app, call, request, headers)
    if recorder is not None:
        recorder.flush()
    gc.collect()
    gc.freeze()
    # The warm-up ran without instrumentation (many times faster); the parent switches it on now.
    print(READY, flush=True)
    sys.stdin.readline()
    answered = []
    mark = os.getppid
    for request, headers in prepared[warmup:]:
        mark()
        answered.append(_answer(app, call, request, headers))
    mark()
    if recorder is not None:
        recorder.flush()
    mark()
    measured = [request for request, _ in prepared[warmup:]]
    print(
        json.dumps([[request.kind, request.expect, status] for request, status in zip(measured, answered, strict=True)])
    )


def _answer(app: Any, call: Any, request: MixRequest, headers: dict[str, str]) -> int:
    status, body = call(app, request.method, request.path, headers, b"")
    if status >= 500:
        raise SystemExit(f"{request.method} {request.path} answered {status}: {body[:300]!r}")
    return status


def dump_totals(out: Path, parts: int) -> list[int]:
    """The instruction count of each of the `parts` numbered dumps callgrind wrote beside `out` (out.1, out.2 ...)."""
    totals = []
    for number in range(1, parts + 1):
        with open(f"{out}.{number}", "rb") as file:
            header = file.read(HEADER_BYTES).decode(errors="replace")
        totals.append(_summary(header, f"{out}.{number}"))
    extra = Path(f"{out}.{parts + 1}")
    if extra.exists():
        raise bench.BenchError(
            f"callgrind dumped more often than the driver marked ({extra}): something else calls {SENTINEL}()"
        )
    return totals


def _summary(header: str, name: str) -> int:
    for line in header.splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split(":", 1)[1])
    raise bench.BenchError(f"no summary in {name}")


def count_mix(target: str, args: Any, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Run the driver for `target` under callgrind; each measured request's count, with its kind and status."""
    out = workdir / f"callgrind.mix.{target}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--dump-before={SENTINEL}",
        "--dump-instr=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).with_name("bench_instructions.py")),
        "--drive",
        target,
        "--mix",
        str(args.mix),
        "--warmup",
        str(args.warmup),
        "--measure",
        str(args.measure),
        "--anonymous",
    ]
    bench.log(f"{target}: {args.warmup} + {args.measure} requests of {args.mix} under callgrind")
    errors = workdir / f"callgrind.mix.{target}.stderr"
    with errors.open("w") as stderr:
        driver = subprocess.Popen(
            command, cwd=bench.REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        assert driver.stdin is not None and driver.stdout is not None
        for line in driver.stdout:
            if line.strip() == READY:
                subprocess.run(["callgrind_control", "--instr=on", str(driver.pid)], capture_output=True, check=True)
                break
        output, _ = driver.communicate("go\n")
    if driver.returncode != 0:
        raise bench.BenchError(
            f"{target} under callgrind failed (exit {driver.returncode}):\n{errors.read_text()[-3000:]}"
        )
    answered = json.loads(output.strip().splitlines()[-1])
    # Dump 1 is the moment between switching instrumentation on and the first mark; then one per request; then
    # the scan writes (the last file, unnumbered, is the exit).
    totals = dump_totals(out, 1 + len(answered) + 1)
    return {"requests": answered, "instructions": totals[1:-1], "scan_writes": totals[-1]}


def summarize(app: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Per kind (and per kind of request, popularity aside): count, answers, mean and median instructions of the app,
    the baseline's mean; and the mix's means, the app's with the scan writes spread over every request."""
    rows: dict[str, dict[str, Any]] = {}

    def row(kind: str) -> dict[str, Any]:
        return rows.setdefault(kind, {"app": [], "baseline": [], "statuses": collections.Counter(), "unexpected": 0})

    for (kind, expect, status), count in zip(app["requests"], app["instructions"], strict=True):
        for name in _rows_of(kind):
            row(name)["app"].append(count)
            row(name)["statuses"][status] += 1
            row(name)["unexpected"] += status != expect
    for (kind, _, _), count in zip(baseline["requests"], baseline["instructions"], strict=True):
        for name in _rows_of(kind):
            row(name)["baseline"].append(count)
    kinds = {}
    for kind, counts in sorted(rows.items()):
        app_mean, base_mean = statistics.fmean(counts["app"]), statistics.fmean(counts["baseline"])
        kinds[kind] = {
            "requests": len(counts["app"]),
            "statuses": {str(status): n for status, n in sorted(counts["statuses"].items())},
            "unexpected": counts["unexpected"],
            "app_mean": round(app_mean),
            "app_median": round(statistics.median(counts["app"])),
            "baseline_mean": round(base_mean),
            "app/baseline": round(app_mean / base_mean, 2),
        }
    measured = len(app["instructions"])
    app_mix = (sum(app["instructions"]) + app["scan_writes"]) / measured
    base_mix = statistics.fmean(baseline["instructions"])
    return {
        "measured": measured,
        "kinds": kinds,
        "scan_writes_per_request": round(app["scan_writes"] / measured),
        "app": round(app_mix),
        "baseline": round(base_mix),
        "app/baseline": round(app_mix / base_mix, 2),
    }


def _rows_of(kind: str) -> list[str]:
    """A request counts in its kind's row and, for "api/fresh" and the like, in the row of all "api/*" too."""
    return [kind, kind.split("/")[0] + "/*"] if "/" in kind else [kind]


def render(report: dict[str, Any]) -> str:
    lines = [f"{'kind':<18} {'requests':>8} {'app mean':>11} {'app median':>11} {'baseline':>9} {'ratio':>6}  answers"]
    for kind, row in report["kinds"].items():
        statuses = " ".join(f"{status}:{n}" for status, n in row["statuses"].items())
        unexpected = f" ({row['unexpected']} not as expected)" if row["unexpected"] else ""
        lines.append(
            f"{kind:<18} {row['requests']:>8} {row['app_mean']:>11,} {row['app_median']:>11,} "
            f"{row['baseline_mean']:>9,} {row['app/baseline']:>5}x  {statuses}{unexpected}"
        )
    lines.append(f"scan writes, per request of the mix: {report['scan_writes_per_request']:,}")
    lines.append(
        f"mix of {report['measured']} requests: app {report['app']:,} instructions a request (scan writes included), "
        f"baseline {report['baseline']:,}, app/baseline {report['app/baseline']}x"
    )
    return "\n".join(lines)
