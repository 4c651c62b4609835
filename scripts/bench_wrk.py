"""wrk runs: the request (one, a bodies file, or a slice of a request sequence), the command, the parsed result.

Every answer is counted by status in bench.lua's response() hook, and, for a request sequence, checked against
the status its line expects (a 404 for a mistyped serial, a 307 for a link type are answers, not errors).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench_proc import SCRIPTS, BenchError, Children, http_request, snippet
from bench_servers import Server

LUA_SCRIPT = SCRIPTS / "bench.lua"
RESULT_MARKER = "@@BENCH_RESULT@@"
# A p99 from fewer samples than this rests on a handful of requests.
MIN_SAMPLES = 2000


class RequestSequence:
    """A request-sequence file (bench_sequence.py) and the slices of it each wrk run sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta: dict[str, str] = {}
        self.lines: list[str] = []
        with path.open() as file:
            for line in file:
                if line.startswith("#"):
                    self.meta |= dict(item.split("=", 1) for item in line[1:].split() if "=" in item)
                elif line.strip():
                    self.lines.append(line.rstrip("\n"))
        if not self.lines:
            raise BenchError(f"request sequence is empty: {path}")

    def parse(self, number: int) -> tuple[int, str, str, dict[str, str]]:
        """(expected status, method, path, headers) of line `number` (wrapping round the end)."""
        _, expect, method, path, *headers = self.lines[number % len(self.lines)].split("\t")
        return int(expect), method, path, dict(header.split(": ", 1) for header in headers)

    def write_slices(self, prefix: Path, *, start: int, count: int, threads: int, host: str) -> None:
        """`count` lines from `start` as ready-to-send requests, every `threads`-th line in file `prefix.<i>`."""
        records: list[list[bytes]] = [[] for _ in range(threads)]
        for number in range(start, start + count):
            expect, method, path, headers = self.parse(number)
            head = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"X-Request-Id: q{number}"]
            raw = ("\r\n".join(head + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n").encode()
            records[(number - start) % threads].append(f"{number} {expect} {len(raw)}\n".encode() + raw)
        for index, chunks in enumerate(records):
            Path(f"{prefix}.{index}").write_bytes(b"".join(chunks))


@dataclass
class RequestSpec:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    body_file: Path | None = None
    # One body per line, sent in turn: for writes that must not repeat (a receipt twice is a no-op).
    bodies_file: Path | None = None
    bodies_count: int = 0
    sequence: RequestSequence | None = None
    # Lines (bodies or sequence lines) the app has sent so far; the next run starts here.
    used: int = 0


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    bytes: int
    errors: dict[str, int]
    latency_us: dict
    statuses: dict[str, int]
    mismatches: dict[str, int]
    sent_by_thread: list[int]
    wrapped: int
    # Sequence lines this run covered (start, end), for the report.
    lines: tuple[int, int] = (0, 0)
    checked_against_sequence: bool = False
    raw: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def percentile_ms(self, p: str) -> float:
        return self.latency_us["percentiles"][p] / 1000.0

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.get(k, 0) for k in ("connect", "read", "write", "timeout"))

    def status_classes(self) -> dict[str, int]:
        """Answers by class; 404 and 429 apart, as a lookup mix expects the one and must keep the other rare."""
        classes = {"2xx": 0, "3xx": 0, "404": 0, "429": 0, "4xx": 0, "5xx": 0}
        for status, count in self.statuses.items():
            code = int(status)
            key = status if code in (404, 429) else f"{code // 100}xx"
            classes[key] = classes.get(key, 0) + count
        return classes

    @property
    def unexpected(self) -> int:
        """Answers other than expected (a sequence line's status, else 2xx), 429s and 5xxs included."""
        if self.checked_against_sequence:
            return sum(self.mismatches.values())
        return sum(count for status, count in self.statuses.items() if not 200 <= int(status) < 300)

    def as_dict(self) -> dict:
        return {
            "requests_per_s": round(self.rps, 2),
            "p50_ms": round(self.percentile_ms("50"), 3),
            "p90_ms": round(self.percentile_ms("90"), 3),
            "p95_ms": round(self.percentile_ms("95"), 3),
            "p99_ms": round(self.percentile_ms("99"), 3),
            "mean_ms": _ms(self.latency_us.get("mean")),
            "max_ms": _ms(self.latency_us.get("max")),
            "requests": self.requests,
            "samples": self.requests,  # wrk records every answer's latency
            "duration_s": round(self.duration_s, 3),
            "bytes": self.bytes,
            "statuses": self.statuses,
            "status_classes": self.status_classes(),
            "expected": "sequence" if self.checked_against_sequence else "2xx",
            "unexpected": self.unexpected,
            "unexpected_by_status": self.mismatches,
            "rate_limited": self.statuses.get("429", 0),
            "socket_errors": self.socket_errors,
            "errors": self.errors,
            "lines": list(self.lines),
            "wrapped": self.wrapped,
        }


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000.0, 3)


def parse_wrk_output(output: str) -> WrkResult:
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                data = json.loads(line[len(RESULT_MARKER) :])
            except ValueError as exc:
                raise BenchError(f"unparseable wrk result line: {line!r}") from exc
            return WrkResult(
                duration_s=data["duration_us"] / 1e6,
                requests=int(data["requests"]),
                bytes=int(data["bytes"]),
                errors={k: int(v) for k, v in data["errors"].items()},
                latency_us=data["latency_us"],
                statuses={k: int(v) for k, v in data["statuses"].items()},
                mismatches={k: int(v) for k, v in data["mismatches"].items()},
                sent_by_thread=[int(n) for n in data["sent_by_thread"]],
                wrapped=int(data["wrapped"]),
                raw=output,
            )
    raise BenchError(f"wrk printed no result line; output:\n{output[-3000:]}")


def wrk_command(args: argparse.Namespace, url: str, duration: float) -> list[str]:
    return [
        args.wrk,
        "--threads",
        str(args.threads),
        "--connections",
        str(args.connections),
        "--duration",
        f"{max(1, round(duration))}s",
        "--timeout",
        f"{args.request_timeout}s",
        "--script",
        str(LUA_SCRIPT),
        url,
    ]


def lines_used(start: int, sent_by_thread: list[int], stride: int) -> int:
    """The first line after every line the threads sent, rounded up to a multiple of `stride` (thread i sends
    start+i, start+i+stride, ...)."""
    last = max((start + index + (sent - 1) * stride for index, sent in enumerate(sent_by_thread) if sent), default=-1)
    end = max(start, last + 1)
    return -(-end // stride) * stride


def run_wrk(
    children: Children,
    args: argparse.Namespace,
    server: Server,
    request: RequestSpec,
    duration: float,
    *,
    start: int,
    workdir: Path,
    expected_rps: float,
) -> WrkResult:
    """One wrk run sending from line `start` (of the bodies or the sequence); `expected_rps` sizes the slice."""
    env = dict(os.environ)
    env["BENCH_METHOD"] = request.method
    env["BENCH_BODY_FILE"] = str(request.body_file or "")
    env["BENCH_BODIES_FILE"] = str(request.bodies_file or "")
    env["BENCH_SEQUENCE_FILE"] = ""
    env["BENCH_START"] = str(start)
    env["BENCH_WRK_THREADS"] = str(args.threads)
    env["BENCH_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
    sequence = request.sequence
    if sequence is not None:
        prefix = workdir / "slice"
        # Twice the rate expected, so a faster run than the last does not reach the slice's end and start over.
        count = int(max(expected_rps, 1000) * 2 * duration) + 1000
        sequence.write_slices(prefix, start=start, count=count, threads=args.threads, host=f"{server.host_header}")
        env["BENCH_SEQUENCE_FILE"] = str(prefix)
    cmd = wrk_command(args, server.base_url + request.path, duration)
    proc = children.popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=duration + args.request_timeout + 30)
    except subprocess.TimeoutExpired as exc:
        raise BenchError("wrk did not finish in time") from exc
    finally:
        children.stop(proc)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed (exit {proc.returncode}):\n{output[-3000:]}")
    result = parse_wrk_output(output)
    result.lines = (start, lines_used(start, result.sent_by_thread, args.threads))
    # The app answers each line as expected; the baseline (and the app in --self-test) answers 200 to all.
    result.checked_against_sequence = sequence is not None and server.name == "app" and not args.self_test
    return result


def check_errors(name: str, result: WrkResult, max_share: float) -> None:
    """A run whose answers are not the expected ones, or whose sockets failed, is no benchmark."""
    if result.requests == 0:
        raise BenchError(f"{name}: wrk completed no requests; errors {result.errors}")
    bad = result.unexpected + result.socket_errors
    share = bad / (result.requests + result.errors.get("connect", 0))
    if share > max_share:
        raise BenchError(
            f"{name}: {share:.1%} of requests failed under load (unexpected answers: {result.unexpected}, "
            f"{result.mismatches or result.status_classes()}; socket errors: {result.socket_errors}); allowed "
            f"{max_share:.1%}. Numbers of a failing endpoint are not a benchmark (rate limiting? expired token?)"
        )


def use_bodies_file(request: RequestSpec, path: Path, content_type: str) -> None:
    if not path.is_file():
        raise BenchError(f"bodies file not found: {path}")
    with path.open("rb") as bodies:
        first = bodies.readline().rstrip(b"\n")
        count = 1 + sum(1 for line in bodies if line.strip())
    if not first:
        raise BenchError(f"bodies file is empty: {path}")
    request.bodies_file, request.bodies_count = path, count
    # The probe sends the first body; wrk starts after it.
    request.body, request.used = first, 1
    request.headers["Content-Type"] = content_type


def probe(server: Server, request: RequestSpec, what: str = "before load") -> tuple[int, bytes]:
    """One request exactly like wrk's; a benchmark of errors is worthless."""
    status, data = http_request(
        request.method, server.base_url + request.path, headers=request.headers, body=request.body
    )
    if not 200 <= status < 300:
        raise BenchError(
            f"{server.name}: {request.method} {request.path} answered HTTP {status} {what}, "
            f"expected 2xx: {snippet(data)}"
        )
    return status, data


def probe_sequence(server: Server, sequence: RequestSequence, *, start: int, count: int, strict: bool) -> float:
    """Send lines start..start+count one by one; each must answer its expected status (`strict`) or any status
    below 400. Returns the mean body size, so the baseline can answer as many bytes."""
    sizes = []
    for number in range(start, start + count):
        expect, method, path, headers = sequence.parse(number)
        status, data = http_request(method, server.base_url + path, headers={**headers, "X-Request-Id": f"q{number}"})
        if (strict and status != expect) or (not strict and status >= 400):
            raise BenchError(
                f"{server.name}: line {number} ({method} {path}) answered HTTP {status}, expected {expect}: "
                f"{snippet(data)}"
            )
        sizes.append(len(data))
    return sum(sizes) / len(sizes)
