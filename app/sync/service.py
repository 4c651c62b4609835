"""Applying a handheld's queued offline actions: each once, in order, each in its own savepoint."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from app import field_errors
from app.common import clock
from app.errors import DomainError, InvalidInput, PermissionDenied
from app.i18n import _
from app.idempotency import service as answers
from app.sync.actions import ACTIONS, ActionType, Caller

# A handheld's clock may run a little ahead of ours; beyond this a time in the future is refused.
CLOCK_SKEW = timedelta(minutes=2)


def apply_batch(
    session: Session, actions: Sequence[dict[str, Any]], *, caller: Caller, window: timedelta
) -> list[dict[str, Any]]:
    """Apply each action once, in the order given; answer per action applied, duplicate, conflict or rejected.

    Every answer, a refusal too, is kept with the Idempotency-Key answers under the key `sync:<id>` for this
    user, so the same batch sent again (the answer lost on a weak network) replays them as duplicates.
    """
    return [_one(session, action, caller=caller, window=window) for action in actions]


def _one(session: Session, action: dict[str, Any], *, caller: Caller, window: timedelta) -> dict[str, Any]:
    key = f"sync:{action['id']}"
    fingerprint = _fingerprint(action)
    head = {"id": str(action["id"]), "type": action["type"]}
    # PostgreSQL: held to the batch's end, so a twin batch sent meanwhile gets 409 and retries (replaying).
    answers.lock_key(session, user_id=caller.user.id, key=key)
    try:
        stored = answers.find_answer(session, user_id=caller.user.id, key=key, fingerprint=fingerprint)
    except DomainError as error:  # the id reused for another action: a client bug, refused, not remembered
        return {**head, **_refused(error)}
    if stored is not None:
        first = json.loads(stored.response_body)
        return {**first, **head, "outcome": "duplicate", "first_outcome": first["outcome"]}
    kind = ACTIONS[action["type"]]
    answer = {**head, **_attempt(session, kind, action, caller=caller, window=window)}
    answers.remember_answer(
        session,
        user_id=caller.user.id,
        key=key,
        fingerprint=fingerprint,
        status_code=answer["status"],
        headers=[],
        body=json.dumps(answer).encode(),
    )
    return answer


def _attempt(
    session: Session, kind: ActionType, action: dict[str, Any], *, caller: Caller, window: timedelta
) -> dict[str, Any]:
    try:
        at = _when(action["done_at"], window=window)
        if caller.user.role not in kind.roles:
            raise PermissionDenied(_("Your role may not send %(type)s actions.", type=action["type"]))
        try:
            body = kind.body().load(action["body"])
        except ValidationError as error:
            raise InvalidInput(
                _("The action's body did not pass validation; see errors."), errors={"json": error.messages}
            ) from error
        result = _apply(session, kind, caller, body, at)
    except DomainError as error:
        refused = _refused(error)
        if kind.current is not None and refused["outcome"] == "conflict":
            refused["problem"]["current"] = _current(session, kind, caller, action)
        return refused
    return {"outcome": "applied", "status": kind.status, "result": result}


def _apply(session: Session, kind: ActionType, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    """The action in a savepoint of its own: undone if refused, unless the refusal keeps its bookkeeping (a broken
    seal's risk warning), as `db.transaction()` keeps it for the route."""
    savepoint = session.begin_nested()
    try:
        result = kind.answer.dump(kind.apply(session, caller, body, at))
    except DomainError as error:
        if error.keeps_changes:
            savepoint.commit()
        else:
            savepoint.rollback()
        raise
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def _when(done_at: datetime, *, window: timedelta) -> datetime:
    now = clock.utcnow()
    if done_at > now + CLOCK_SKEW:
        raise InvalidInput.of_field("done_at", _("An action cannot have been done in the future; check the clock."))
    if done_at < now - window:
        hours = int(window.total_seconds() // 3600)
        raise InvalidInput.of_field(
            "done_at", _("Actions older than %(hours)s hours are no longer accepted.", hours=hours)
        )
    return min(done_at, now)


def _current(session: Session, kind: ActionType, caller: Caller, action: dict[str, Any]) -> Any:
    assert kind.current is not None
    try:
        body = kind.body().load(action["body"])
        with session.begin_nested():
            return kind.current(session, caller, body)
    except (DomainError, ValidationError):
        return None


def _refused(error: DomainError) -> dict[str, Any]:
    problem: dict[str, Any] = {"code": error.code, "title": str(error.title), "detail": str(error.detail)}
    if error.errors:
        problem["errors"] = field_errors.translate(error.errors)
    outcome = "conflict" if error.status == 409 else "rejected"
    return {"outcome": outcome, "status": error.status, "problem": problem}


def _fingerprint(action: dict[str, Any]) -> str:
    payload = json.dumps(
        {"type": action["type"], "done_at": action["done_at"].isoformat(), "body": action["body"]},
        sort_keys=True,
        default=str,
    )
    return answers.request_hash("SYNC", action["type"], payload.encode())
