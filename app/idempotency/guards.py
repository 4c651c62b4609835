"""The Idempotency-Key decorator for writes a phone or a handheld may retry after losing the answer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from flask_smorest import Blueprint

from app import db
from app.auth.guards import current_user
from app.idempotency import service
from app.idempotency.models import IdempotentRequest
from app.infra.context import the_request

F = TypeVar("F", bound=Callable[..., Any])

_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": service.MAX_KEY_LENGTH},
    "description": (
        "A new UUID per intended write (draft-ietf-httpapi-idempotency-key-header), kept per user for 48 hours. "
        "Sent again with the same request (after a timeout, say), the write is not done again: the first answer "
        "(status, headers, body) comes back with `Idempotent-Replayed: true`. With a different request, 422 "
        "`idempotency_key_reused`; while the first is still being processed, 409 `idempotency_key_in_flight`."
    ),
}
_RESPONSES = {"409": "CONFLICT", "422": "UNPROCESSABLE_ENTITY"}


def idempotent(view: F) -> F:
    """Do a write once per Idempotency-Key and replay its first successful answer (place it under require_role,
    under any decorator that sizes the body, and over blp.arguments and blp.response).

    The view's work and the stored answer commit in one transaction: a crash stores neither, so the retry does
    the work then. A twin sent while the first is in flight is refused with 409 (service.lock_key).
    """

    @wraps(view)
    def replaying(*args: Any, **kwargs: Any) -> Any:
        # As request.headers reads it, from the request itself (not through its proxy: app/infra/context.py).
        key = the_request().environ.get("HTTP_IDEMPOTENCY_KEY")
        if key is None:
            return view(*args, **kwargs)
        service.check_key(key)
        user_id = current_user().id
        fingerprint = _fingerprint()
        with db.transaction(enclosing=True) as session:
            service.lock_key(session, user_id=user_id, key=key)
            stored = service.find_answer(session, user_id=user_id, key=key, fingerprint=fingerprint)
            if stored is not None:
                return _replay(stored)
            response = current_app.make_response(view(*args, **kwargs))
            if 200 <= response.status_code < 300:
                # Buffers a streamed answer (the trace codes' CSV): the replay must be the same bytes.
                body = response.get_data()
                service.remember_answer(
                    session,
                    user_id=user_id,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    headers=response.headers.items(),
                    body=body,
                )
            return response

    return _documented(replaying)  # type: ignore[return-value]


def _documented(view: Callable[..., Any]) -> Callable[..., Any]:
    """Document the header beside the view's own parameters: Blueprint.doc(parameters=...) would replace them."""
    apidoc = view._apidoc = deepcopy(getattr(view, "_apidoc", {}))  # type: ignore[attr-defined]
    apidoc.setdefault("arguments", {}).setdefault("parameters", []).append(dict(_HEADER))
    return Blueprint.doc(responses=_RESPONSES)(view)


def _fingerprint() -> str:
    """Method, path, body; the query and Accept when sent (they choose the answer); a form by its parts.

    A retried multipart upload is the same request with another boundary, so forms are hashed field by field.
    """
    extra = []
    if request.query_string:
        extra.append(b"?" + request.query_string)
    if "Accept" in request.headers:
        extra.append(b"Accept: " + request.headers["Accept"].encode())
    if request.mimetype == "multipart/form-data":
        return service.request_hash(request.method, request.path, b"", extra=[*extra, *_form_parts()])
    return service.request_hash(request.method, request.path, request.get_data(cache=True), extra=extra)


def _form_parts() -> Iterator[bytes]:
    for name, value in sorted(request.form.items(multi=True)):
        yield f"form {name}={value}".encode()
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: (item[0], item[1].filename or "")):
        digest = hashlib.file_digest(upload.stream, "sha256")  # type: ignore[arg-type]
        upload.stream.seek(0)
        yield f"file {name}={upload.filename} {digest.hexdigest()}".encode()


def _replay(stored: IdempotentRequest) -> Response:
    # Answers stored before their headers were had no others than JSON's Content-Type.
    headers = [(name, value) for name, value in stored.response_headers or [["Content-Type", "application/json"]]]
    replay = current_app.response_class(stored.response_body, status=stored.status_code, headers=headers)
    replay.headers["Idempotent-Replayed"] = "true"
    return replay
