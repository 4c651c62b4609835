"""Where the X-ray line's single-scan latency goes, request by request (issue 19): scripts/bench_line.py's fixed rate
with probes in the workers (scripts/bench_line_probe_gunicorn.py), then the split of each answer's time.

    .venv/bin/python scripts/bench_line_probe.py                      # 500 scans/s for 30 s, as bench_line.py
    .venv/bin/python scripts/bench_line_probe.py --rate 200 --duration 20 --parcels 50000

Takes bench_line.py's arguments (always without the saturation phase). Prints, over the scans due after the warm-up:

- each answer's time split: the client's lag (due to written: its loop late, or a connection being opened), written
  to parsed by gunicorn (the wait for the worker: other greenlets' CPU, a collection), in the app, the answer's write
  and access log, and back to the client; pass and divert apart; the same split for the slowest 1%;
- per worker: requests, collections of each generation with their CPU,
  the objects a full collection walks, and the greenlet runs without a switch over 1 ms of CPU, the longest named
  with what they held (a collection inside them, the request kind).

The probes cost the workers a little (a callback per greenlet switch); read the split, not the absolute latency. On
the shared VM the machine's load moves every wall-clock figure: the CPU times are the worker's own.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402
import bench_line  # noqa: E402

PROBE_CONFIG = SCRIPTS / "bench_line_probe_gunicorn.py"


def main(argv: list[str]) -> int:
    probe_dir = Path(tempfile.mkdtemp(prefix="smartpark-line-probe-"))
    os.environ["LINE_PROBE_DIR"] = str(probe_dir)
    runs = []
    open_loop = bench_line.open_loop

    def keeping(*args, **kwargs):
        runs.append(open_loop(*args, **kwargs))
        return runs[-1]

    bench_line.open_loop = keeping
    bench.DEFAULT_GUNICORN_CONFIG = PROBE_CONFIG
    status = bench_line.main([*argv, "--no-saturation", "--json"])
    if not runs:
        return status or 1
    workers = [json.loads(path.read_text()) for path in sorted(probe_dir.glob("worker-*.json"))]
    print(report(runs[0], workers, warmup=bench_line.parse_args([*argv, "--no-saturation"]).warmup))
    return status


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _spread(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "-"
    at = [values[min(len(values) - 1, int(q * len(values)))] for q in (0.5, 0.95, 0.99)]
    return f"p50 {_ms(at[0])} p95 {_ms(at[1])} p99 {_ms(at[2])} max {_ms(values[-1])}"


def report(run, workers: list[dict], *, warmup: float) -> str:
    server = {}
    for number, worker in enumerate(workers):
        for request_id, record in worker["requests"].items():
            server[request_id] = (number, *record)
    start = min(outcome.due for outcome in run.outcomes)
    rows = []
    for outcome in run.outcomes:
        record = server.get(f"line-{outcome.index}")
        if outcome.due - start < warmup or record is None or None in record:
            continue
        rows.append((outcome, *record))
    if not rows:
        return "no request matched its worker record"
    # The client's loop runs on time.monotonic(), as the workers' probes do: its outcomes count from run.start.
    offset = run.start
    lines = [f"{len(rows):,} scans after the warm-up matched to their worker records"]
    parts = {
        "client lag (due to written)": lambda o, p, b, e, lg: o.sent_lag,
        "written to parsed (wait for the worker)": lambda o, p, b, e, lg: p - offset - (o.due + o.sent_lag),
        "in the app": lambda o, p, b, e, lg: e - b,
        "write and access log": lambda o, p, b, e, lg: lg - e,
        "answer to client": lambda o, p, b, e, lg: (o.due + o.latency) - (lg - offset),
        "latency (due to answer)": lambda o, p, b, e, lg: o.latency,
    }
    for kind, chosen in (("all", rows), ("pass", [r for r in rows if not r[6]]), ("divert", [r for r in rows if r[6]])):
        lines.append(f"{kind} ({len(chosen):,}):")
        for name, part in parts.items():
            lines.append(f"  {name:40s} {_spread([part(r[0], *r[2:6]) for r in chosen])}")
    tail = sorted(rows, key=lambda r: -r[0].latency)[: max(1, len(rows) // 100)]
    lines.append(f"slowest 1% ({len(tail)}; {sum(r[6] for r in tail)} diverts), mean ms of each part:")
    for name, part in parts.items():
        lines.append(f"  {name:40s} {_ms(sum(part(r[0], *r[2:6]) for r in tail) / len(tail))}")
    began_at = min(r[3] for r in rows)
    for number, worker in enumerate(workers):
        served = [r for r in rows if r[1] == number]
        collections = [c for c in worker["gc"] if c[0] >= began_at]
        by_generation = Counter(c[3] for c in collections)
        lines.append(f"worker {number}: {len(served):,} scans")
        for generation in sorted(by_generation):
            cpu = [c[2] for c in collections if c[3] == generation]
            lines.append(
                f"  gen{generation} collections {len(cpu)}: CPU total {_ms(sum(cpu))} ms, max {_ms(max(cpu))} ms"
            )
        walked = [objects for at, objects in worker["full_collections"] if at >= began_at]
        if walked:
            lines.append(f"  objects a full collection walked: {walked[:10]}")
        runs = [r for r in worker["runs"] if r[0] >= began_at and r[2] > 0.001]
        lines.append(f"  greenlet runs over 1 ms of CPU: {len(runs)}, over 5 ms: {sum(r[2] > 0.005 for r in runs)}")
        kinds = {f"line-{r[0].index}": "divert" if r[6] else "pass" for r in served}
        for at, wall, cpu, request_id, kind in sorted(runs, key=lambda r: -r[2])[:8]:
            inside = [(c[3], round(c[2] * 1000, 1)) for c in collections if at <= c[0] <= at + wall]
            held = kinds.get(request_id, kind if request_id is None else request_id)
            lines.append(
                f"    {_ms(cpu)} ms CPU ({_ms(wall)} wall) at {at - began_at:.2f} s: {held}; "
                f"collections inside (generation, ms CPU): {inside}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
