"""Bare Flask app used as the lower bound in ``scripts/bench.py``.

It answers every path and common method with a small, fixed JSON document
shaped like a user profile, so a benchmark against it measures gunicorn, the
network stack and Flask's own request/response cycle, but none of the Smart
Park stack (blueprints, auth, database, rate limiting).

``bench.py`` serves it with the application's own ``gunicorn.conf.py``, with
``scripts/`` on ``PYTHONPATH``::

    PORT=8001 PYTHONPATH=scripts .venv/bin/gunicorn -c gunicorn.conf.py \\
        bench_baseline:app

It echoes ``X-Request-Id`` as the app does, so ``bench.lua`` can match each
answer of a request sequence to its request.

``BENCH_BASELINE_BYTES`` (optional) sets the approximate size of the JSON body,
so the baseline can send as many bytes as the endpoint it is compared with.
"""

import json
import os

from flask import Flask, jsonify, request

DEFAULT_BODY_BYTES = 300
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _size(doc: dict) -> int:
    # Approximates Flask's compact jsonify output (sorted keys, trailing
    # newline); being off by a few bytes does not matter for the comparison.
    return len(json.dumps(doc, separators=(",", ":"), sort_keys=True)) + 1


def _profile(target_bytes: int) -> dict:
    profile = {
        "id": 1,
        "username": "declarant",
        "email": "declarant@example.invalid",
        "full_name": "Demo Declarant",
        "roles": ["declarant"],
        "is_active": True,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "bio": "",
    }
    # Small endpoints (health checks) get a small document rather than a
    # profile several times their size.
    if _size(profile) > target_bytes:
        profile = {"ok": True, "bio": ""}
    profile["bio"] = "x" * max(0, target_bytes - _size(profile))
    return profile


PROFILE = _profile(int(os.environ.get("BENCH_BASELINE_BYTES", DEFAULT_BODY_BYTES)))

app = Flask(__name__)


@app.route("/", defaults={"path": ""}, methods=METHODS)
@app.route("/<path:path>", methods=METHODS)
def catch_all(path: str):
    # Serialised per request, as a real view would, rather than pre-encoded.
    return jsonify(PROFILE)


@app.after_request
def echo_request_id(response):
    given = request.headers.get("X-Request-Id")
    if given:
        response.headers["X-Request-Id"] = given
    return response
