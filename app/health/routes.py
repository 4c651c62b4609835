"""Liveness and readiness probes for the process manager and load balancer."""

import logging

from flask import Blueprint
from sqlalchemy import text

from app import db
from app.errors import problem_response

log = logging.getLogger(__name__)
blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    """The database answers; until then the load balancer should send traffic elsewhere."""
    try:
        db.session().execute(text("SELECT 1"))
    except Exception:
        log.exception("readiness check failed")
        return problem_response(status=503, code="service_unavailable", detail="The database is not reachable.")
    return {"status": "ready", "database": "ok"}
