"""What a customs receipt costs the worker in-process (issue 23): CPU and statements per receipt, and a profile.

``scripts/bench_receipts.py`` measures the whole burst under load, where the figure moves with whatever else the
2-core machine runs and with lock waits between documents. This measures the documents alone: the same burst
(``bench_receipts_data.plan_burst``: each list's 120, some 500s, every 800 a few documents later with its stock and
trace codes, re-sent and late receipts), posted one document after another to the app in this process (WSGI, no
server, no sockets) on a scratch PostgreSQL database of its own, as the gateway user.

Printed: CPU microseconds per receipt (the process's own CPU, not the database server's) over the timed documents,
the wall time beside it, statements per document (counted at the driver's cursor) with the most frequent first
words, and with ``--profile`` a cProfile of the timed documents. Every answer is checked against the plan.

    .venv/bin/python scripts/bench_receipts_cost.py
    .venv/bin/python scripts/bench_receipts_cost.py --profile          # cProfile, top 40 by cumulative time
    .venv/bin/python scripts/bench_receipts_cost.py --callgrind --declarations 500   # instructions per receipt

``--callgrind`` runs the same under valgrind's callgrind, instrumented only while the timed documents are posted
(``callgrind_control -i on/off``), and prints instructions per receipt: a count this machine's drifting speed and
other processes cannot move, for comparing two versions of the code. It takes several minutes for 500 lists.

Needs PostgreSQL (``--database-url``, a server: a database named with the run is created and dropped).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402
from bench_instructions import _call_as_sent  # noqa: E402
from bench_receipts_data import document_body, load_lists, plan_burst  # noqa: E402
from bench_scratch import add_enterprise_with_users, app_in_process, base_env, scratch_database  # noqa: E402

from app.auth.service import open_session  # noqa: E402
from app.users.models import User  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PATH = "/api/v1/customs/receipts"


def _first_words(statement: str) -> str:
    words = " ".join(statement.split())
    return words[:70]


def run(args: argparse.Namespace, workdir: Path) -> dict:
    burst = plan_burst(
        lists=args.declarations,
        enterprises=args.enterprises,
        products=10,
        per_document=args.per_document,
        inspection_share=0.05,
        duplicate_share=0.03,
        late_share=0.02,
        release_gap=(8, 24),
        seed=23,
    )
    url = make_url(args.database_url)
    if not url.database:
        url = url.set(database=f"bench_receipts_cost_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}")
    with scratch_database(url.render_as_string(hide_password=False), workdir) as database_url:
        env = base_env(database_url, workdir)
        bench.run_flask_cli(env, "db", "upgrade")
        bench.run_flask_cli(env, "seed-demo")
        with app_in_process(env) as app:
            settings = app.extensions["settings"]
            with app.extensions["sessionmaker"].begin() as session:
                enterprises = [
                    add_enterprise_with_users(session, label=f"Cost{n:03d}", users=2) for n in range(args.enterprises)
                ]
                load_lists(session, burst, enterprises=enterprises)
                gateway = session.scalar(select(User).where(User.username == "gateway"))
                token = open_session(
                    session, gateway, client_addr="127.0.0.1", user_agent="bench_receipts_cost", settings=settings
                ).access_token
            with app.extensions["engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))
            return measure(app, burst, token, args)


def measure(app, burst, token: str, args: argparse.Namespace) -> dict:
    headers = {
        "HTTP_ACCEPT": "application/json",
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
    }
    bodies = [json.dumps(document_body(burst, d), ensure_ascii=False).encode() for d in burst.documents]
    statements: list[str] = []
    counting = [False]
    execute = psycopg.Cursor.execute

    long: Counter = Counter()

    def counted(cursor, query, params=None, *a, **k):
        if counting[0]:
            sql = query if isinstance(query, str) else str(query)
            statements.append(sql)
            # psycopg converts a statement longer than this, or with more parameters, afresh each time.
            if len(sql) > 4096 or len(params or ()) > 50:
                long[_first_words(sql)] += 1
        return execute(cursor, query, params, *a, **k)

    psycopg.Cursor.execute = counted
    copies = burst.copies()

    def post(number: int) -> None:
        status, body = _call_as_sent(app, "POST", PATH, headers, bodies[number])
        if status != 200:
            raise SystemExit(f"document {number} answered {status}: {body[:400]!r}")
        answers = [result["outcome"] for result in json.loads(body)["results"]]
        for receipt, answer in zip(burst.documents[number], answers, strict=True):
            either = copies[receipt.key] > 1 and "duplicate" in (answer, receipt.expected)
            if answer != receipt.expected and not either:
                raise SystemExit(f"document {number}: {receipt.status_code} answered {answer}, not {receipt.expected}")

    warm = min(args.warmup, len(bodies) // 4)
    for number in range(warm):
        post(number)
    gc.collect()
    gc.freeze()
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    timed = range(warm, len(bodies))
    receipts = sum(len(burst.documents[n]) for n in timed)
    counting[0] = True
    if profiler:
        profiler.enable()
    _instrument("on")
    started, cpu_started = time.perf_counter(), time.process_time()
    for number in timed:
        post(number)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    _instrument("off")
    if profiler:
        profiler.disable()
    counting[0] = False
    report = {
        "documents": len(timed),
        "receipts": receipts,
        "cpu_us_per_receipt": round(cpu / receipts * 1e6, 1),
        "wall_us_per_receipt": round(wall / receipts * 1e6, 1),
        "statements_per_document": round(len(statements) / len(timed), 1),
        "uncached_conversions_per_document": {words: round(n / len(timed), 2) for words, n in long.most_common(10)},
        "statements_by_kind_per_document": {
            words: round(count / len(timed), 2)
            for words, count in Counter(map(_first_words, statements)).most_common(25)
        },
    }
    if profiler:
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(args.profile_lines)
        stats.sort_stats("tottime").print_stats(30)
    return report


UNDER_CALLGRIND = "BENCH_RECEIPTS_UNDER_CALLGRIND"


def _instrument(state: str) -> None:
    """Under `--callgrind`, count only the timed documents (the process was started with instrumentation off)."""
    if os.environ.get(UNDER_CALLGRIND):
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def under_callgrind(argv: list[str], workdir: Path) -> dict:
    """This script again under callgrind; its report with the instructions per receipt added."""
    out = workdir / "callgrind.receipts.out"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    command += [sys.executable, __file__, *[arg for arg in argv if arg != "--callgrind"]]
    bench.log("the timed documents under callgrind (several minutes)")
    done = subprocess.run(
        command, env={**os.environ, UNDER_CALLGRIND: "1"}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise bench.BenchError(f"the run under callgrind failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout[done.stdout.index("{") :])
    # "totals", not "summary": the summary is what was counted at start-up, with instrumentation off.
    totals = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
    if totals is None:
        raise bench.BenchError("no totals in the callgrind output")
    report["instructions_per_receipt"] = round(int(totals.group(1)) / report["receipts"])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--declarations", type=int, default=2000, help="lists in the burst (2,000)")
    parser.add_argument("--enterprises", type=int, default=50)
    parser.add_argument("--per-document", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10, help="documents posted before the timed ones (10)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed documents")
    parser.add_argument("--profile-lines", type=int, default=60)
    parser.add_argument("--profile-out", help="also write the profile to this file (pstats)")
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="PostgreSQL server (a scratch database)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per receipt (valgrind)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_receipts_cost_") as workdir:
        if args.callgrind:
            report = under_callgrind(sys.argv[1:] if argv is None else argv, Path(workdir))
        else:
            report = run(args, Path(workdir))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
