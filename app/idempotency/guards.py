"""The Idempotency-Key decorator for writes a phone may retry after losing the answer."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request
from flask_smorest import Blueprint

from app import db
from app.auth.guards import current_user
from app.idempotency import service

F = TypeVar("F", bound=Callable[..., Any])

_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": service.MAX_KEY_LENGTH},
    "description": (
        "A new UUID per intended write. Sent again with the same request (after a timeout, say), the first "
        "answer is returned again with `Idempotent-Replayed: true`; with a different request, 422."
    ),
}


def idempotent(view: F) -> F:
    """Replay the first successful answer for a repeated Idempotency-Key (place it under require_role).

    The answer is stored after the write commits, so two copies racing each other can both run;
    the domain's own uniqueness rules (a declaration's cop_no) catch that rare case.
    """

    @wraps(view)
    def replaying(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        service.check_key(key)
        user_id = current_user().id
        fingerprint = service.request_hash(request.method, request.path, request.get_data(cache=True))
        with db.transaction() as session:
            stored = service.find_answer(session, user_id=user_id, key=key, fingerprint=fingerprint)
        if stored is not None:
            replay = current_app.response_class(
                stored.response_body, status=stored.status_code, mimetype="application/json"
            )
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        response = view(*args, **kwargs)
        if 200 <= response.status_code < 300:
            with db.transaction() as session:
                service.remember_answer(
                    session,
                    user_id=user_id,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    body=response.get_data(as_text=True),
                )
        return response

    return Blueprint.doc(parameters=[_HEADER])(replaying)  # type: ignore[return-value]
