"""Loading benchmark: one request bags 10,000 parcels and loads them into a container.

Target (issue 19): loading 10,000 parcels into bags and a container in one request batch, under 5 s on PostgreSQL.

Steps, all on 127.0.0.1 and in a temp dir removed at the end:

1. A scratch database of the run's own (PostgreSQL, named bench_loading_<run> unless ``--database-url`` names one;
   created here and dropped at the end), ``flask db upgrade``.
2. In-process, in bulk: a warehouse enterprise and its operator, a declaring enterprise, and for every round (and
   the warm-up) ``--parcels`` parcels on export lists customs released, ``--parcels-per-list`` per list (1 by
   default: a 9610 B2C list is one order, usually one parcel, which makes the most lists and timeline steps), each
   parcel PASSED by the X-ray line. A round never loads a parcel another round loaded.
3. ``gunicorn -c gunicorn.conf.py wsgi:app`` (``--workers``), then a warm-up load of ``--warmup-parcels`` (not
   counted), then ``--rounds`` rounds, one after the other: each one POST /api/v1/export/containers/load with a new
   container, sealed, and its parcels in bags of ``--bag-size``, timed from the request's send to its whole answer.
   Every answer must be 201 with every parcel loaded and none refused.
4. The database is checked: every parcel of every round LOADED in its round's container, one packing step per list
   and bag and one loading step per list on the timelines.

    .venv/bin/python scripts/bench_loading.py                       # 5 rounds of 10,000 on PostgreSQL
    .venv/bin/python scripts/bench_loading.py --parcels 2000 --rounds 2 --database-url sqlite

Exit status: 0 ran clean (and met ``--target`` if given), 1 could not run or an answer was wrong, 2 bad usage,
3 target missed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from stdnum import iso6346

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402  (child processes, gunicorn)
from bench_proc import BenchError, http_request, snippet  # noqa: E402
from bench_scratch import HOST, NO_PASSWORD, app_in_process, base_env, load_average, log, scratch_database  # noqa: E402

from app.auth.service import open_session  # noqa: E402
from app.common import clock  # noqa: E402
from app.declarations.models import (  # noqa: E402
    Declaration,
    DeclarationEvent,
    DeclarationKind,
    DeclarationStatus,
)
from app.enterprises.models import Enterprise  # noqa: E402
from app.exports.models import ExportContainer, ExportList, ExportParcel, ParcelStage  # noqa: E402
from app.users.models import Role, User  # noqa: E402

TARGET_S = 5.0
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
BATCH = 2000


def add_enterprise(session, label: str) -> Enterprise:
    unique = secrets.token_hex(4).upper()
    enterprise = Enterprise(
        name=f"{label} {unique}",
        uscc=f"91500000{unique}{secrets.randbelow(100):02d}",
        customs_reg_code=f"B{unique}{secrets.randbelow(10)}",
    )
    session.add(enterprise)
    session.flush()
    return enterprise


def add_user(session, enterprise: Enterprise, role: Role) -> User:
    user = User(
        username=f"bench-{role.value}-{secrets.token_hex(4)}",
        display_name=f"bench {role.value}",
        role=role,
        enterprise_id=enterprise.id,
        password_hash=NO_PASSWORD,
    )
    session.add(user)
    session.flush()
    return user


def seed_parcels(session, *, count: int, per_list: int, tag: str, warehouse, agent, declarant) -> list[str]:
    """`count` PASSED parcels on released export lists of `per_list` parcels; returns their waybills in order."""
    now = clock.utcnow()
    waybills: list[str] = []
    lists = -(-count // per_list)
    for offset in range(0, lists, BATCH):
        numbers = range(offset, min(offset + BATCH, lists))
        rows = [
            _list_row(tag, n, per_list, now, warehouse=warehouse, agent=agent, declarant=declarant) for n in numbers
        ]
        ids = session.execute(insert(Declaration).returning(Declaration.id, sort_by_parameter_order=True), rows)
        ids = list(ids.scalars())
        session.execute(insert(ExportList), [_head_row(declaration_id, per_list) for declaration_id in ids])
        parcels = []
        for n, declaration_id in zip(numbers, ids, strict=True):
            for piece in range(min(per_list, count - n * per_list)):
                waybill = f"{tag}{n:07d}{piece:02d}"
                waybills.append(waybill)
                parcels.append(
                    {
                        "declaration_id": declaration_id,
                        "waybill_no": waybill,
                        "gross_weight": Decimal("1.2500"),
                        "stage": ParcelStage.PASSED,
                        "scanned_in_at": now,
                        "line_scanned_at": now,
                        "updated_at": now,
                    }
                )
        session.execute(insert(ExportParcel), parcels)
    return waybills


def _list_row(tag: str, n: int, per_list: int, now, *, warehouse, agent, declarant) -> dict:
    return {
        "kind": DeclarationKind.EXPORT_INVENTORY,
        "guid": str(uuid.uuid4()).upper(),
        "status": DeclarationStatus.RELEASED,
        "cop_no": f"{tag}{n:07d}",
        "invt_no": None,
        "order_no": f"ORD-{tag}-{n:07d}",
        "logistics_no": f"LOG-{tag}-{n:07d}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "重庆出海优品有限公司",
        "agent_code": agent.customs_reg_code,
        "agent_name": agent.name,
        "area_code": warehouse.customs_reg_code,
        "area_name": warehouse.name,
        "trade_mode": "9610",
        "customs_code": "8012",
        "port_code": "8013",
        "currency": "502",
        "freight": Decimal("0.00"),
        "insured_fee": Decimal("0.00"),
        "goods_value": Decimal("20.00") * per_list,
        "gross_weight": Decimal("1.25") * per_list,
        "net_weight": Decimal("1.0") * per_list,
        "declaring_enterprise_id": agent.id,
        "warehouse_enterprise_id": warehouse.id,
        "submitted_by_id": declarant.id,
        "submitted_at": now,
        "released_at": now,
        "updated_at": now,
    }


def _head_row(declaration_id: int, per_list: int) -> dict:
    return {
        "declaration_id": declaration_id,
        "destination_country": "344",
        "consignee_name": "Alex Chan",
        "consignee_country": "344",
        "logistics_code": "500224L001",
        "logistics_name": "渝新欧国际物流",
        "statistics_flag": "A",
        "traf_mode": "5",
        "wrap_type": "2",
        "pack_no": per_list,
    }


def container_no(serial: int) -> str:
    """A valid ISO 6346 number of the run's own owner code."""
    body = f"BNCU{serial:06d}"
    return body + iso6346.calc_check_digit(body)


def load_body(waybills: list[str], *, serial: int, bag_size: int) -> bytes:
    bags = [
        {"bag_no": f"BENCH-{serial:03d}-{index:05d}", "waybills": waybills[start : start + bag_size]}
        for index, start in enumerate(range(0, len(waybills), bag_size))
    ]
    body = {
        "container_no": container_no(serial),
        "traf_mode": "5",
        "voyage_no": f"CA{1000 + serial}",
        "bill_no": f"999-{serial:08d}",
        "port_code": "8013",
        "seal_no": f"SEAL{serial:06d}",
        "bags": bags,
    }
    return json.dumps(body).encode()


def prepare(env: dict[str, str], args: argparse.Namespace) -> dict:
    with app_in_process(env) as app:
        settings = app.extensions["settings"]
        with app.extensions["sessionmaker"].begin() as session:
            warehouse, agent = add_enterprise(session, "Bench warehouse"), add_enterprise(session, "Bench broker")
            operator, declarant = (
                add_user(session, warehouse, Role.WAREHOUSE_OPERATOR),
                add_user(session, agent, Role.DECLARANT),
            )
            started = time.perf_counter()
            batches = []
            for round_no in range(args.rounds + 1):
                count = args.warmup_parcels if round_no == 0 else args.parcels
                batches.append(
                    seed_parcels(
                        session,
                        count=count,
                        per_list=args.parcels_per_list,
                        tag=f"R{round_no:02d}",
                        warehouse=warehouse,
                        agent=agent,
                        declarant=declarant,
                    )
                )
            log(f"seeded {sum(map(len, batches))} parcels in {time.perf_counter() - started:.1f} s")
            token = open_session(session, operator, client_addr=HOST, user_agent="bench_loading", settings=settings)
        with app.extensions["engine"].connect() as connection:
            # Fresh rows have no planner statistics yet; a bulk load ends with ANALYZE, as in production.
            if connection.dialect.name == "postgresql":
                connection.execute(text("ANALYZE"))
            connection.commit()
    return {"token": token.access_token, "batches": batches}


def post_load(server, token: str, body: bytes, expected: int, timeout: float) -> tuple[float, dict]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    status, data = http_request("POST", server.base_url + "/api/v1/export/containers/load", headers, body, timeout)
    elapsed = time.perf_counter() - started
    if status != 201:
        raise BenchError(f"the load answered {status}: {snippet(data)}")
    answer = json.loads(data)
    if answer["loaded"] != expected or answer["refused"] or answer["refused_bags"]:
        raise BenchError(
            f"the load took {answer['loaded']} of {expected} parcels; refused {answer['refused'][:3]}, "
            f"bags {answer['refused_bags'][:3]}"
        )
    return elapsed, answer


def check(env: dict[str, str], batches: list[list[str]], containers: list[int], per_list: int, bag_size: int) -> dict:
    """Every parcel of every round loaded in its round's container; the timeline steps the rounds owe."""
    problems = []
    with app_in_process(env) as app, app.extensions["sessionmaker"]() as session:
        for round_no, (waybills, container_id) in enumerate(zip(batches, containers, strict=True)):
            loaded = session.scalar(
                select(func.count())
                .select_from(ExportParcel)
                .where(ExportParcel.waybill_no.like(f"R{round_no:02d}%"), ExportParcel.stage == ParcelStage.LOADED)
            )
            if loaded != len(waybills):
                problems.append(f"round {round_no}: {loaded} of {len(waybills)} parcels loaded")
            if session.get(ExportContainer, container_id) is None:
                problems.append(f"round {round_no}: container {container_id} missing")
        steps = dict(
            session.execute(
                select(DeclarationEvent.step, func.count())
                .where(DeclarationEvent.step.in_(("bagged", "loaded")))
                .group_by(DeclarationEvent.step)
            ).all()
        )
    parcels = sum(map(len, batches))
    lists = sum(-(-len(waybills) // per_list) for waybills in batches)
    # A list of several parcels may straddle two bags: at least one packing step per list.
    if steps.get("loaded") != lists or steps.get("bagged", 0) < lists:
        problems.append(f"timeline steps {steps}, expected {lists} loading steps and at least {lists} packing ones")
    return {"ok": not problems, "problems": problems, "parcels": parcels, "lists": lists, "steps": steps}


def database_url(args: argparse.Namespace) -> str | None:
    if args.database_url == "sqlite":
        return None
    url = make_url(args.database_url)
    if not url.database:
        url = url.set(database=f"bench_loading_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}")
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
        containers, rounds = [], []
        try:
            for round_no, waybills in enumerate(setup["batches"]):
                body = load_body(waybills, serial=round_no, bag_size=args.bag_size)
                elapsed, answer = post_load(server, setup["token"], body, len(waybills), args.timeout)
                containers.append(answer["container"]["id"])
                if round_no == 0:
                    log(f"warm-up: {len(waybills)} parcels in {elapsed:.3f} s")
                    continue
                rounds.append(
                    {"round": round_no, "parcels": len(waybills), "seconds": round(elapsed, 3), "bytes": len(body)}
                )
                log(f"round {round_no}: {len(waybills)} parcels in {elapsed:.3f} s")
        finally:
            children.stop(server.proc)
        report = {
            "rounds": rounds,
            "median_s": round(statistics.median(r["seconds"] for r in rounds), 3),
            "min_s": min(r["seconds"] for r in rounds),
            "max_s": max(r["seconds"] for r in rounds),
            "check": check(env, setup["batches"], containers, args.parcels_per_list, args.bag_size),
            "machine": {"load_average_before": load_before, "load_average_after": load_average()},
            "settings": {
                "database": bench.db_kind(url),
                "database_name": make_url(url).database,
                **{key: value for key, value in vars(args).items() if key not in ("json", "gunicorn_config")},
                "bags_per_round": -(-args.parcels // args.bag_size),
            },
        }
    report["target"] = {"seconds_at_most": TARGET_S, "met": report["max_s"] < TARGET_S}
    return report


def summary(report: dict) -> str:
    s, c, m = report["settings"], report["check"], report["machine"]
    lines = [
        f"{s['database']} ({s['database_name']}), {s['workers']} worker(s); load {m['load_average_before']} -> "
        f"{m['load_average_after']}",
        f"each round: {s['parcels']} parcels on lists of {s['parcels_per_list']}, {s['bags_per_round']} bags of "
        f"{s['bag_size']}, one container, sealed, in one request",
        "rounds: " + ", ".join(f"{r['seconds']:.3f} s" for r in report["rounds"]),
        f"median {report['median_s']:.3f} s (min {report['min_s']:.3f}, max {report['max_s']:.3f})",
        f"database check: {'ok' if c['ok'] else 'FAILED'} ({c['parcels']} parcels, {c['lists']} lists, steps "
        f"{c['steps']}) {'; '.join(c['problems'])}",
        f"target every round < {TARGET_S:g} s: {'met' if report['target']['met'] else 'not met'}",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="One request loads 10,000 parcels into bags and a container.")
    parser.add_argument("--parcels", type=int, default=10_000, help="parcels per round (at most 10,000)")
    parser.add_argument("--parcels-per-list", type=int, default=1, help="parcels on each export list")
    parser.add_argument("--bag-size", type=int, default=100, help="parcels per master bag")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup-parcels", type=int, default=500, help="loaded first, not counted")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="PostgreSQL server (a database named with the run is created and dropped) or a scratch database "
        "URL that does not exist yet; 'sqlite' for a SQLite file",
    )
    parser.add_argument("--target", action="store_true", help="exit 3 unless every round is under 5 s")
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    parser.add_argument("--gunicorn-config", type=Path, default=bench.DEFAULT_GUNICORN_CONFIG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.parcels <= 10_000 or not 1 <= args.warmup_parcels <= 10_000:
        parser.error("--parcels and --warmup-parcels must be 1-10,000 (one load's limit)")
    if min(args.parcels_per_list, args.bag_size, args.rounds, args.workers) < 1 or args.bag_size > 2000:
        parser.error("--parcels-per-list, --rounds and --workers must be positive, --bag-size 1-2,000")
    if -(-args.parcels // args.bag_size) > 500:
        parser.error("at most 500 bags in one load: raise --bag-size")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._raise_on_signal)
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-loading-")
    if isinstance(report, int):
        return report
    if not args.json:
        print(summary(report), file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if not report["check"]["ok"]:
        log("FAILED: the database check found parcels or steps missing")
        return 1
    if args.target and not report["target"]["met"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
