"""Home-screen benchmark: GET /api/v1/me/home for declarants, officers, warehouse and gate operators.

Target (issue 21): p99 under 30 ms with 100,000 lists in PostgreSQL, at the park's peak rate of home screens
(``--rate``, 100 a second: 30,000 app users each opening the app or pulling to refresh about twelve times in the
busiest hour), the roles mixed as the park's users are (``--mix``). Latency is measured open loop (each request
timed from when it was due, scripts/bench_line_load.py), so a queue cannot hide; wrk flat out per role then gives
each role's capacity, whose latency is the queue of ``--connections`` requests and is reported beside it, not judged.

Steps, all on 127.0.0.1 and in a temp dir removed at the end:

1. A scratch database of the run's own (PostgreSQL, named bench_home_<run> unless ``--database-url`` names one;
   created here and dropped at the end), ``flask db upgrade``.
2. In-process, in bulk (scripts/bench_home_data.py): ``--lists`` lists over ``--enterprises`` declaring enterprises
   (Zipf-like: the largest holds about a tenth) and ``--warehouses`` warehouses, import and export, with their open
   and closed inspection tasks, export parcels, gate passes and passages, risk warnings, and three notices per list
   to its enterprise's declarant; ANALYZE; a session per user measured. ``--explain`` then runs each statement one
   home answer makes, for the heaviest user of each role, under EXPLAIN ANALYZE, and prints the plans.
3. ``gunicorn -c gunicorn.conf.py wsgi:app`` (``--workers``); the open-loop run: ``--rate`` homes a second for
   ``--open-duration`` seconds after ``--open-warmup``, each request's role drawn by ``--mix`` and its user in turn of
   ``--users`` users of that role (declarants: the largest enterprises first, then a spread). Every answer must be
   200. Each role's p50/p95/p99 from the due time is printed and judged.
4. Unless ``--no-flat-out``: per role, wrk (``--connections``) sends home requests flat out after a discarded
   warm-up, then ``GET /api/v1/me`` for the same users as the floor; each role's rate and p50/p95/p99 are printed.

    .venv/bin/python scripts/bench_home.py                      # 100,000 lists, four roles, 10 s each
    .venv/bin/python scripts/bench_home.py --lists 20000 --duration 5 --roles declarant,customs_officer --explain

Exit status: 0 ran clean (and met ``--target`` if given), 1 could not run or an answer was wrong, 2 bad usage,
3 target missed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import signal
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402  (child processes, gunicorn)
import bench_home_data  # noqa: E402
from bench_line_load import open_loop  # noqa: E402
from bench_scratch import HOST, app_in_process, base_env, load_average, log, scratch_database, spread_ms  # noqa: E402
from bench_wrk import RequestSequence, RequestSpec, check_errors, probe_sequence, run_wrk  # noqa: E402

from app.auth.service import open_session  # noqa: E402
from app.home import service as home  # noqa: E402
from app.users.models import Role, User  # noqa: E402

TARGET_P99_MS = 30.0
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
HOME_PATH = "/api/v1/me/home"
BASELINE_PATH = "/api/v1/me"
ROLES = {
    role.value: role for role in (Role.DECLARANT, Role.CUSTOMS_OFFICER, Role.WAREHOUSE_OPERATOR, Role.GATE_OPERATOR)
}
# Who opens the app: declarants by far the most, then warehouse staff; officers and gate staff are few.
DEFAULT_MIX = "declarant=80,warehouse_operator=10,customs_officer=5,gate_operator=5"


def measured_users(park: bench_home_data.Park, role: Role, count: int) -> list:
    users = park.users[role]
    if role is Role.DECLARANT:
        # The largest enterprises first (the heaviest homes), then every k-th of the rest.
        head = users[: count // 2]
        rest = users[count // 2 :]
        return head + rest[:: max(1, len(rest) // max(1, count - len(head)))][: count - len(head)]
    return users[:count]


def prepare(env: dict[str, str], args: argparse.Namespace) -> dict:
    with app_in_process(env) as app:
        settings = app.extensions["settings"]
        with app.extensions["sessionmaker"].begin() as session:
            started = time.perf_counter()
            park = bench_home_data.load(
                session, lists=args.lists, enterprises=args.enterprises, warehouses=args.warehouses, seed=args.seed
            )
            log(f"seeded {park.counts} in {time.perf_counter() - started:.1f} s")
            tokens = {
                role: [
                    open_session(
                        session, user, client_addr=HOST, user_agent="bench_home", settings=settings
                    ).access_token
                    for user in measured_users(park, role, args.users)
                ]
                for role in args.roles
            }
            heaviest = {role: park.users[role][0].id for role in args.roles}
        # Fresh rows have no planner statistics (nor a visibility map for index-only scans) yet: a bulk load ends
        # with VACUUM ANALYZE, as in production.
        with app.extensions["engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        plans = explain(app, heaviest) if args.explain else {}
    return {"tokens": tokens, "counts": park.counts, "plans": plans}


def explain(app, heaviest: dict[Role, int]) -> dict[str, dict]:
    """Each statement one home answer makes for the heaviest user of each role, under EXPLAIN ANALYZE, and the
    answer's median time in-process."""
    engine, plans = app.extensions["engine"], {}
    for role, user_id in heaviest.items():
        captured: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many, captured=captured):
            captured.append((statement, parameters))

        with app.extensions["sessionmaker"]() as session:
            user = session.get(User, user_id)
            event.listen(engine, "before_cursor_execute", capture)
            try:
                home.home_for(session, user)
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            # Warm, one after another, in one process: the statements' own cost without HTTP or concurrency.
            took = []
            for _ in range(20):
                started = time.perf_counter()
                home.home_for(session, user)
                took.append((time.perf_counter() - started) * 1000)
        statements = []
        with engine.connect() as connection:
            for statement, parameters in captured:
                rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
                statements.append({"statement": " ".join(statement.split())[:160], "plan": [row[0] for row in rows]})
        plans[role.value] = {"in_process_median_ms": round(statistics.median(took), 3), "statements": statements}
        log(f"{role.value}: {len(captured)} statements, median {statistics.median(took):.1f} ms in-process (warm)")
        for entry in statements:
            log(f"  {entry['statement'][:110]}")
            log("    " + "; ".join(line.strip() for line in entry["plan"] if "Scan" in line or "Execution" in line))
    return plans


def write_sequence(path: Path, tokens: list[str], url_path: str) -> RequestSequence:
    lines = [f"home\t200\tGET\t{url_path}\tAuthorization: Bearer {token}" for token in tokens]
    path.write_text("\n".join(lines) + "\n")
    return RequestSequence(path)


def measure_role(children, args, server, role: Role, tokens: list[str], workdir: Path, url_path: str) -> dict:
    sequence = write_sequence(workdir / f"home-{role.value}.tsv", tokens, url_path)
    # Every user once before load: each answers 200 (a token, a role the home refuses, a 500 would show here).
    probe_sequence(server, sequence, start=0, count=len(tokens), strict=True)
    request = RequestSpec(method="GET", path=url_path, sequence=sequence)
    if args.warmup > 0:
        run_wrk(children, args, server, request, args.warmup, start=0, workdir=workdir, expected_rps=2000)
    log(f"{role.value}: GET {url_path}, wrk {args.duration:g}s, {args.connections} connections, {len(tokens)} users")
    result = run_wrk(children, args, server, request, args.duration, start=0, workdir=workdir, expected_rps=2000)
    check_errors(role.value, result, 0.0)
    figures = result.as_dict()
    keep = ("requests_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "requests", "statuses", "unexpected")
    return {"users": len(tokens), **{key: figures[key] for key in keep}}


def plan_homes(tokens: dict[Role, list[str]], mix: dict[Role, float], count: int, seed: int) -> list[tuple[Role, str]]:
    """`count` home requests, each one's role drawn by `mix` and its user the role's next in turn."""
    rng = random.Random(seed)
    roles = [role for role in mix if tokens.get(role)]
    weights = [mix[role] for role in roles]
    turns = dict.fromkeys(roles, 0)
    plan = []
    for role in rng.choices(roles, weights, k=count):
        plan.append((role, tokens[role][turns[role] % len(tokens[role])]))
        turns[role] += 1
    return plan


def open_loop_homes(args: argparse.Namespace, server, tokens: dict[Role, list[str]]) -> dict:
    """--rate homes a second, open loop, roles mixed; figures over the requests due after the warm-up."""
    plan = plan_homes(tokens, args.mix, int(args.rate * (args.open_warmup + args.open_duration)), args.seed)
    requests = [
        f"GET {HOME_PATH} HTTP/1.1\r\nHost: {server.host_header}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        for _, token in plan
    ]
    log(f"open loop: {len(requests):,} homes at {args.rate:g}/s ({args.open_warmup:g} s warm-up left out)")
    load_before = load_average()
    run = open_loop(HOST, server.port, requests, rate=args.rate, connections=args.open_connections)
    measured = [outcome for outcome in run.outcomes if outcome.due >= args.open_warmup]
    statuses: dict[str, int] = {}
    for outcome in measured:
        statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
    by_role = {
        role.value: spread_ms([o.latency for o in measured if o.status == 200 and plan[o.index][0] is role])
        for role in args.mix
    }
    return {
        "rate": args.rate,
        "duration_s": args.open_duration,
        "warmup_s": args.open_warmup,
        "mix": {role.value: weight for role, weight in args.mix.items()},
        "measured": len(measured),
        "statuses": statuses,
        "errors": len(run.errors),
        "first_errors": run.errors[:5],
        "late_sends": run.late_sends,
        "waited_for_connection": run.waited_for_connection,
        "connections_opened": run.connections_opened,
        "client_cpu_s": round(run.client_cpu_s, 2),
        "all": spread_ms([o.latency for o in measured if o.status == 200]),
        # When the slowest were due and whose they were: a cluster in time is a stall, a spread is load.
        "max_ms_by_second": _max_by_second(measured),
        "slowest": [
            {"due_s": round(o.due, 3), "ms": round(o.latency * 1000, 1), "role": plan[o.index][0].value}
            for o in sorted(measured, key=lambda o: o.latency)[-12:]
        ],
        "roles": by_role,
        "load_average": {"before": load_before, "after": load_average()},
    }


def _max_by_second(outcomes) -> list[float]:
    """The slowest answer among the requests due in each second of the run."""
    worst: dict[int, float] = {}
    for outcome in outcomes:
        second = int(outcome.due)
        worst[second] = max(worst.get(second, 0.0), outcome.latency)
    return [
        round(worst.get(second, 0.0) * 1000, 1) for second in range(min(worst, default=0), max(worst, default=-1) + 1)
    ]


def database_url(args: argparse.Namespace) -> str:
    url = make_url(args.database_url)
    if not url.database:
        url = url.set(database=f"bench_home_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}")
    return url.render_as_string(hide_password=False)


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict:
    with scratch_database(database_url(args), workdir) as url:
        env = base_env(url, workdir)
        env["WEB_CONCURRENCY"] = str(args.workers)
        bench.run_flask_cli(env, "db", "upgrade")
        setup = prepare(env, args)
        (port,) = bench.free_ports(1)
        load_before = load_average()
        server = bench.start_server(children, "app", bench.APP_TARGET, port, env, args.gunicorn_config, workdir)
        roles, fixed = {}, None
        try:
            fixed = open_loop_homes(args, server, setup["tokens"])
            if fixed["errors"] or set(fixed["statuses"]) != {"200"}:
                raise bench.BenchError(f"open loop: answers {fixed['statuses']}, errors {fixed['first_errors']}")
            for role in args.roles if args.flat_out else ():
                tokens = setup["tokens"][role]
                roles[role.value] = measure_role(children, args, server, role, tokens, workdir, HOME_PATH)
                if args.baseline:
                    # The simplest signed-in read, same users, same load: what any request costs on this machine now.
                    roles[role.value]["baseline_me"] = measure_role(
                        children, args, server, role, tokens, workdir, BASELINE_PATH
                    )
        finally:
            children.stop(server.proc)
        settings = {key: value for key, value in vars(args).items() if key not in ("json", "gunicorn_config", "wrk")}
        settings["roles"] = [role.value for role in args.roles]
        settings["mix"] = {role.value: weight for role, weight in args.mix.items()}
        report = {
            "open_loop": fixed,
            "roles": roles,
            "data": setup["counts"],
            "machine": {"load_average_before": load_before, "load_average_after": load_average()},
            "settings": {"database": bench.db_kind(url), **settings},
            "plans": setup["plans"],
        }
    worst = max(figures["p99_ms"] for figures in fixed["roles"].values() if figures["count"])
    report["target"] = {
        "p99_ms_below": TARGET_P99_MS,
        "at_rate": args.rate,
        "worst_p99_ms": worst,
        "met": worst < TARGET_P99_MS,
    }
    return report


def summary(report: dict) -> str:
    s, m = report["settings"], report["machine"]
    lines = [
        f"{s['database']}, {s['workers']} worker(s), wrk {s['connections']} connections; "
        f"load {m['load_average_before']} -> {m['load_average_after']}",
        f"data: {report['data']}",
    ]
    o = report["open_loop"]
    lines.append(
        f"open loop {o['rate']:g} homes/s for {o['duration_s']:g} s, {o['measured']} measured, "
        f"answers {o['statuses']}, {o['late_sends']} sent late; "
        f"load {o['load_average']['before']} -> {o['load_average']['after']}"
    )
    for role, f in {"all": o["all"], **o["roles"]}.items():
        lines.append(
            f"  {role:<19} {f['count']:>6} homes  p50 {f['p50_ms'] or 0:6.1f} ms  p95 {f['p95_ms'] or 0:6.1f} ms  "
            f"p99 {f['p99_ms'] or 0:6.1f} ms  max {f['max_ms'] or 0:6.1f} ms"
        )
    if report["roles"]:
        lines.append(f"flat out, wrk {s['connections']} connections per role (capacity; latency is the queue):")
    for role, home_figures in report["roles"].items():
        for path, f in ((HOME_PATH, home_figures), (BASELINE_PATH, home_figures.get("baseline_me"))):
            if f is not None:
                lines.append(
                    f"{role:<19} {path:<16} {f['users']:>3} users {f['requests_per_s']:>6.0f} req/s  "
                    f"p50 {f['p50_ms']:6.1f} ms  p95 {f['p95_ms']:6.1f} ms  p99 {f['p99_ms']:6.1f} ms  "
                    f"({f['requests']} requests)"
                )
    met = "met" if report["target"]["met"] else "not met"
    lines.append(f"target p99 < {TARGET_P99_MS:g} ms for every role at {o['rate']:g} homes/s, open loop: {met}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GET /api/v1/me/home under load, per role, on PostgreSQL.")
    parser.add_argument("--lists", type=int, default=100_000)
    parser.add_argument("--enterprises", type=int, default=300, help="declaring enterprises, one declarant each")
    parser.add_argument("--warehouses", type=int, default=8)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--roles", default=",".join(ROLES), help=f"comma-separated, of {', '.join(ROLES)}")
    parser.add_argument("--users", type=int, default=20, help="users per role the requests rotate over")
    parser.add_argument("--rate", type=float, default=100.0, help="homes a second in the open-loop run (100)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"roles' shares of the open-loop run ({DEFAULT_MIX})")
    parser.add_argument("--open-duration", type=float, default=30.0, help="measured seconds of the open-loop run")
    parser.add_argument("--open-warmup", type=float, default=5.0, help="seconds the open-loop figures leave out")
    parser.add_argument("--open-connections", type=int, default=32, help="keep-alive connections of the open loop")
    parser.add_argument(
        "--flat-out", action=argparse.BooleanOptionalAction, default=True, help="also wrk flat out per role"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of flat-out load per role")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded load before each role's run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--request-timeout", type=int, default=10, help="wrk socket timeout, seconds")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="PostgreSQL server (a database named with the run is created and dropped), or a scratch database URL "
        "that does not exist yet",
    )
    parser.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=True, help="also load GET /api/v1/me per role"
    )
    parser.add_argument("--explain", action="store_true", help="print each home statement's plan (EXPLAIN ANALYZE)")
    parser.add_argument("--target", action="store_true", help="exit 3 unless every role's open-loop p99 is under 30 ms")
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    parser.add_argument("--wrk", default="wrk", help=argparse.SUPPRESS)
    parser.add_argument("--gunicorn-config", type=Path, default=bench.DEFAULT_GUNICORN_CONFIG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.roles = [ROLES[name.strip()] for name in args.roles.split(",") if name.strip()]
    except KeyError as missing:
        parser.error(f"--roles: unknown role {missing}")
    try:
        args.mix = {ROLES[name.strip()]: float(share) for name, share in (p.split("=") for p in args.mix.split(","))}
    except (KeyError, ValueError) as wrong:
        parser.error(f"--mix: role=share,... ({wrong})")
    args.mix = {role: share for role, share in args.mix.items() if role in args.roles and share > 0}
    if not args.mix or args.rate <= 0 or args.open_duration <= 0:
        parser.error("--mix must name a role of --roles with a positive share; --rate and --open-duration positive")
    if min(args.lists, args.enterprises, args.warehouses, args.users, args.connections, args.workers) < 1:
        parser.error("--lists, --enterprises, --warehouses, --users, --connections and --workers must be positive")
    if not args.roles or args.threads < 1 or args.threads > args.connections:
        parser.error("name at least one role; --threads must be 1..--connections")
    args.self_test = False  # bench_wrk judges the app's answers against the sequence's expected 200s
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._raise_on_signal)
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-home-")
    if isinstance(report, int):
        return report
    if not args.json:
        print(summary(report), file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    if args.target and not report["target"]["met"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
