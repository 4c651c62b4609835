"""What a run reports: every round, the median and spread over rounds, and the machine's state.

No round stands for the run: each is printed (app and baseline req/s, their ratio, p95, p99, samples, answers by
status), then the median ratio with its spread (min-max) and the median p95/p99, beside the load average before
and after and the baseline's own rate, so a reader can tell a busy machine from a slow app.
"""

from __future__ import annotations

import os
import statistics

from bench_wrk import WrkResult


def ratios(app: WrkResult, base: WrkResult) -> dict[str, float | None]:
    def div(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "rps": div(app.rps, base.rps),
        "p50": div(app.percentile_ms("50"), base.percentile_ms("50")),
        "p95": div(app.percentile_ms("95"), base.percentile_ms("95")),
        "p99": div(app.percentile_ms("99"), base.percentile_ms("99")),
    }


def round_entry(number: int, order: list[str], app: WrkResult, base: WrkResult) -> dict:
    return {
        "round": number,
        "order": order,
        "app": app.as_dict(),
        "baseline": base.as_dict(),
        "ratios": ratios(app, base),
    }


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def summarize(rounds: list[dict]) -> dict:
    """Medians and spreads over the rounds."""

    def spread(values: list[float]) -> dict[str, float | None]:
        values = [v for v in values if v is not None]
        if not values:
            return {"median": None, "min": None, "max": None}
        return {"median": round(statistics.median(values), 4), "min": min(values), "max": max(values)}

    app = [r["app"] for r in rounds]
    base = [r["baseline"] for r in rounds]
    requests = sum(a["requests"] for a in app)
    return {
        "rounds": len(rounds),
        "ratio": spread([r["ratios"]["rps"] for r in rounds]),
        "app_rps": spread([a["requests_per_s"] for a in app]),
        "baseline_rps": spread([b["requests_per_s"] for b in base]),
        "app_p95_ms": spread([a["p95_ms"] for a in app]),
        "app_p99_ms": spread([a["p99_ms"] for a in app]),
        "baseline_p99_ms": spread([b["p99_ms"] for b in base]),
        "app_samples_min": min(a["samples"] for a in app),
        "app_rate_limited_share": round(sum(a["rate_limited"] for a in app) / requests, 5) if requests else None,
        "app_unexpected_share": round(sum(a["unexpected"] for a in app) / requests, 5) if requests else None,
    }


def median_round(rounds: list[dict]) -> dict:
    """The round whose ratio is the median (the lower middle one for an even count)."""
    ordered = sorted(rounds, key=lambda r: r["ratios"]["rps"] or 0.0)
    return ordered[(len(ordered) - 1) // 2]


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}x"


def _statuses(row: dict) -> str:
    classes = {k: v for k, v in row["status_classes"].items() if v}
    return " ".join(f"{k}:{v}" for k, v in classes.items()) or "-"


def format_table(report: dict) -> str:
    s, m, summary = report["settings"], report["machine"], report["summary"]
    who = "anonymous" if s["user"] is None else f"as {s['user']}"
    what = f"sequence {s['sequence']}" if s.get("sequence") else f"{s['method']} {s['path']}"
    lines = [
        f"{what} ({who})",
        (
            f"gunicorn: workers={s['workers']} worker_class={s['worker_class']} "
            + (f"threads={s['gunicorn_threads']} " if s["worker_class"] == "gthread" else "")
            + f"config={s['gunicorn_config']}"
        ),
        (
            f"wrk: threads={s['wrk_threads']} connections={s['connections']} duration={s['duration_s']:g}s "
            f"warmup={s['warmup_s']:g}s timeout={s['request_timeout_s']:g}s; rounds={len(report['rounds'])} "
            "(app and baseline alternated in both orders: AB BA AB ...)"
        ),
        f"database: {s['database']}; server env: {s['server_env'] or '-'}",
        (f"machine: {m['cpus']} cpus; load average (1, 5, 15 min) before {m['load_before']}, after {m['load_after']}"),
        "",
        (
            f"{'round':<5} {'order':<6} {'app req/s':>10} {'base req/s':>10} {'ratio':>7} {'app p95':>8} "
            f"{'app p99':>8} {'base p99':>8} {'samples':>8}  app answers (unexpected)"
        ),
    ]
    for r in report["rounds"]:
        app, base = r["app"], r["baseline"]
        order = "".join("A" if name == "app" else "B" for name in r["order"])
        lines.append(
            f"{r['round']:<5} {order:<6} {app['requests_per_s']:>10.1f} {base['requests_per_s']:>10.1f} "
            f"{_x(r['ratios']['rps']):>7} {app['p95_ms']:>8.2f} {app['p99_ms']:>8.2f} {base['p99_ms']:>8.2f} "
            f"{app['samples']:>8}  {_statuses(app)} ({app['unexpected']}"
            + (f"; socket errors {app['socket_errors']}" if app["socket_errors"] else "")
            + ")"
        )
    ratio = summary["ratio"]
    lines += [
        "",
        (
            f"ratio app/baseline: median {_x(ratio['median'])}, spread {_x(ratio['min'])}-{_x(ratio['max'])} "
            f"over {summary['rounds']} rounds"
        ),
        (
            f"app: median {summary['app_rps']['median']:.1f} req/s, p95 {summary['app_p95_ms']['median']:.2f} ms, "
            f"p99 {summary['app_p99_ms']['median']:.2f} ms (p99 spread {summary['app_p99_ms']['min']:.2f}-"
            f"{summary['app_p99_ms']['max']:.2f}); fewest samples in a round {summary['app_samples_min']}"
        ),
        (
            f"baseline: median {summary['baseline_rps']['median']:.1f} req/s "
            f"(spread {summary['baseline_rps']['min']:.1f}-{summary['baseline_rps']['max']:.1f}), "
            f"p99 {summary['baseline_p99_ms']['median']:.2f} ms"
        ),
        (
            f"app answers: {summary['app_rate_limited_share']:.2%} rate limited (429), "
            f"{summary['app_unexpected_share']:.2%} other than expected (429s included)"
        ),
    ]
    return "\n".join(lines)
