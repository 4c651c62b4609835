"""Front-end packages installed by npm (package.json, package-lock.json; `npm ci` in scripts/run.sh and .ci/run),
served from node_modules under /console/static/vendor/: the one place the console's policy lets scripts come from,
never a CDN. Only the files named here are served; node_modules stays out of git."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory
from flask.typing import ResponseReturnValue

bp = Blueprint("vendor", __name__, url_prefix="/static/vendor")
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
FILES = {"echarts.min.js": "echarts/dist/echarts.min.js"}


@bp.get("/<name>")
def file(name: str) -> ResponseReturnValue:
    """A packaged file, cached for a day (the package's version changes only with package-lock.json)."""
    path = FILES.get(name)
    if path is None or not (NODE_MODULES / path).is_file():
        abort(404)
    return send_from_directory(NODE_MODULES, path, max_age=86400)
