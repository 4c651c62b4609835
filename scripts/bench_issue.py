"""Bulk work of a bonded warehouse, end to end over HTTP: issuing trace codes and importing products.

Issue 5's targets: issuing 1,000,000 codes on PostgreSQL in at most 60 s, importing 100,000 products from CSV in
at most 20 s.

1. ``flask db upgrade`` and ``flask seed-demo`` against ``DATABASE_URL`` (a temporary SQLite file if unset; the
   issuing target is stated for PostgreSQL), then one released declaration with a goods line of ``--codes`` units
   of a demo product, inserted straight into the database.
2. gunicorn with the production ``gunicorn.conf.py``; the demo warehouse operator signs in.
3. Issuing: ``POST /api/v1/trace-codes`` for that line in batches of ``--batch`` (the API's largest, 100,000),
   one after another as a label printer's software would, each answer streamed as CSV (``Accept: text/csv``) and
   counted to the last row.
4. Import: ``POST /api/v1/products/import`` with a CSV of ``--products`` new products (valid GTIN-13s); then the
   same file again, which must change nothing.
5. The baseline, in the same run and database: as many trace-code rows of the same shape inserted by the database
   itself (``INSERT … SELECT`` from a generated series, rolled back), so the report also gives issuing as a ratio
   to what the database alone needs. The JSON report goes to stdout.

Run from the repository root::

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_issue .venv/bin/python scripts/bench_issue.py

The database named by DATABASE_URL is created if missing. Exit status: 0 ran, 1 could not run.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, text
from sqlalchemy.engine import make_url
from stdnum import ean

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (the HTTP harness: child processes, gunicorn, login)
from bench_gate import ensure_database  # noqa: E402

PRODUCT_HEADER = ["gtin", "name_zh", "name_en", "brand", "specification", "origin_country", "hs_code", "unit"]


def add_line_to_issue(url: str, *, quantity: int) -> int:
    """A copy of a released demo declaration (warehouse, trader and all) with one goods line of `quantity` units of
    a registered product; returns its id."""
    engine = create_engine(url)
    declarations = Table("declarations", MetaData(), autoload_with=engine)
    with engine.begin() as db:
        template_id, gtin = db.execute(
            text(
                "SELECT d.id, l.gtin FROM declarations d JOIN declaration_lines l ON l.declaration_id = d.id "
                "WHERE d.status = 'released' AND l.gtin IN (SELECT gtin FROM products) ORDER BY d.id LIMIT 1"
            )
        ).one()
        run = uuid.uuid4().hex[:8].upper()
        fresh = {
            "guid": str(uuid.uuid4()).upper(),
            "cop_no": f"BI{run}",
            "order_no": f"BIO{run}",
            "logistics_no": f"BIL{run}",
        }
        copied = [c.name for c in declarations.columns if c.name not in ("id", "invt_no", "corrects_id", *fresh)]
        db.execute(
            text(
                f"INSERT INTO declarations ({', '.join([*copied, *fresh])}) "
                f"SELECT {', '.join([*copied, *(f':{name}' for name in fresh)])} FROM declarations WHERE id = :template"
            ),
            {**fresh, "template": template_id},
        )
        declaration_id = db.scalar(text("SELECT id FROM declarations WHERE guid = :guid"), {"guid": fresh["guid"]})
        db.execute(
            text(
                "INSERT INTO declaration_lines (declaration_id, gnum, item_no, item_name, hs_code, gtin, country, qty, "
                "unit, price, total_price) VALUES (:declaration, 1, 'SKU-BULK', '婴儿配方奶粉 800g', '1901101000', "
                ":gtin, '304', :qty, '122', 0.01, :total)"
            ),
            {"declaration": declaration_id, "gtin": gtin, "qty": quantity, "total": quantity / 100},
        )
    engine.dispose()
    return declaration_id


def product_csv(count: int) -> bytes:
    """`count` products with fresh, valid GTIN-13s (prefix 69 + a run number), as the import expects them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PRODUCT_HEADER)
    run = int(time.time()) % 1000
    for n in range(count):
        body = f"69{run:03d}{n:07d}"
        writer.writerow(
            [
                body + ean.calc_check_digit(body),
                f"测试商品 {n}",
                f"Bench product {n}",
                "Bench",
                "1 kg",
                "DE",
                "1901101000",
                "035",
            ]
        )
    return out.getvalue().encode()


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, float]:
    connection = http.client.HTTPConnection(bench.HOST, port, timeout=600)
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return response.status, data, elapsed


def issue(port: int, token: str, declaration_id: int, *, total: int, batch: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "text/csv"}
    times, issued = [], 0
    while issued < total:
        size = min(batch, total - issued)
        body = json.dumps({"declaration_id": declaration_id, "gnum": 1, "quantity": size}).encode()
        status, data, elapsed = _post(port, "/api/v1/trace-codes", body, headers)
        if status != 201:
            raise bench.BenchError(f"issuing {size} codes: HTTP {status} {bench.snippet(data)}")
        rows = data.count(b"\n") - 1  # the header line
        if rows != size:
            raise bench.BenchError(f"asked for {size} codes, the CSV has {rows}")
        issued += size
        times.append(elapsed)
        bench.log(f"issued {issued:,} codes ({elapsed:.2f} s for this batch)")
    return {
        "codes": issued,
        "requests": len(times),
        "seconds": round(sum(times), 3),
        "slowest_request_s": round(max(times), 2),
    }


def import_products(port: int, token: str, payload: bytes) -> dict[str, Any]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="products.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, data, elapsed = _post(port, "/api/v1/products/import", body, headers)
    if status != 200:
        raise bench.BenchError(f"product import: HTTP {status} {bench.snippet(data)}")
    report = json.loads(data)
    return {
        "seconds": round(elapsed, 2),
        **{key: report.get(key) for key in ("created", "updated", "unchanged", "rejected")},
    }


def baseline_codes(url: str, count: int) -> float:
    """Seconds the database alone takes to insert `count` trace-code rows of the same shape (rolled back)."""
    engine = create_engine(url)
    with engine.connect() as db:
        transaction = db.begin()
        batch = db.execute(text("SELECT * FROM trace_code_batches ORDER BY id DESC LIMIT 1")).one()
        started = time.perf_counter()
        if engine.dialect.name == "postgresql":
            db.execute(
                text(
                    "INSERT INTO trace_codes (serial, gtin, lot, status, batch_id, declaration_id, "
                    "warehouse_enterprise_id, status_changed_at) SELECT 'BASE' || lpad(i::text, 12, '0'), :gtin, NULL, "
                    "'issued', :batch, :declaration, :warehouse, now() FROM generate_series(1, :count) i"
                ),
                {
                    "gtin": batch.gtin,
                    "batch": batch.id,
                    "declaration": batch.declaration_id,
                    "warehouse": batch.warehouse_enterprise_id,
                    "count": count,
                },
            )
        else:
            db.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
                    "INSERT INTO trace_codes (serial, gtin, lot, status, batch_id, declaration_id, "
                    "warehouse_enterprise_id, status_changed_at) SELECT 'BASE' || printf('%012d', i), :gtin, NULL, "
                    "'issued', :batch, :declaration, :warehouse, datetime('now') FROM n"
                ),
                {
                    "gtin": batch.gtin,
                    "batch": batch.id,
                    "declaration": batch.declaration_id,
                    "warehouse": batch.warehouse_enterprise_id,
                    "count": count,
                },
            )
        elapsed = time.perf_counter() - started
        transaction.rollback()
    engine.dispose()
    return elapsed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes", type=int, default=1_000_000, help="trace codes to issue (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=100_000, help="codes per request (the API allows 100,000)")
    parser.add_argument("--products", type=int, default=100_000, help="products to import (default 100,000)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict[str, Any]:
    env = bench.build_env(argparse.Namespace(workers=1, gunicorn_threads=None), workdir)
    env["DEMO_PASSWORD"] = "bench-issue-local-only"
    # A product CSV of 100,000 rows is about 8 MB; let the import take it.
    env["MAX_CONTENT_LENGTH"] = env["PRODUCT_IMPORT_MAX_BYTES"] = str(64 * 1024 * 1024)
    url = env["DATABASE_URL"]
    if bench.db_kind(url) == "postgresql":
        ensure_database(url)
    bench.run_flask_cli(env, "db", "upgrade")
    bench.run_flask_cli(env, "seed-demo")
    declaration_id = add_line_to_issue(url, quantity=args.codes)
    port = bench.free_ports(1)[0]
    server = bench.start_server(children, "app", bench.APP_TARGET, port, env, bench.DEFAULT_GUNICORN_CONFIG, workdir)
    try:
        token = bench.login(server, "warehouse", env["DEMO_PASSWORD"], 600)
        report: dict[str, Any] = {"database": make_url(url).get_backend_name()}
        report["issue"] = issue(port, token, declaration_id, total=args.codes, batch=args.batch)
        payload = product_csv(args.products)
        report["import"] = import_products(port, token, payload)
        report["import_again"] = import_products(port, token, payload)
    finally:
        children.stop(server.proc)
    baseline = baseline_codes(url, args.codes)
    report["issue"]["baseline_seconds"] = round(baseline, 3)
    report["issue"]["ratio"] = round(report["issue"]["seconds"] / baseline, 2)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-issue-")
    if isinstance(report, int):
        return report
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
