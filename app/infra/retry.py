"""Re-run a write that PostgreSQL aborted as a deadlock victim or a serialization failure.

PostgreSQL breaks a deadlock by aborting one of the transactions (SQLSTATE 40P01, after `deadlock_timeout`) and
aborts a transaction it cannot serialize (40001). Both say "nothing of yours was kept; run it again", so the view
runs again from the start, its transaction already rolled back by `db.transaction`, up to `ATTEMPTS` times with a
short jittered pause, before any answer leaves. Rows are locked in one global order where the service can (see
`app/clearance/flows.py`), so this is the net under that, not the mechanism.

What it costs: the view must be safe to re-run from its first line, which holds for a view whose every write is
inside its transaction (the Idempotency-Key guard's included, when it sits below this decorator) and which reads
its body with `request.get_data(cache=True)`. After the last attempt the error goes on as any database trouble
does (503 with Retry-After).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy import exc

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

ATTEMPTS = 4
# SQLSTATE: serialization_failure, deadlock_detected.
_RETRYABLE = frozenset({"40001", "40P01"})


def is_retryable(error: BaseException) -> bool:
    """A PostgreSQL transaction conflict: nothing was kept and the same work may well succeed now."""
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    return getattr(orig, "sqlstate", None) in _RETRYABLE


def retries_conflicts(view: F) -> F:
    """Run `view` again when its transaction lost a deadlock or a serialization conflict (see the module)."""

    @wraps(view)
    def retrying(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return view(*args, **kwargs)
            except exc.DBAPIError as error:
                if attempt == ATTEMPTS or not is_retryable(error):
                    raise
                log.warning("transaction conflict (%s), attempt %d of %d; again", error.orig, attempt, ATTEMPTS)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    return retrying  # type: ignore[return-value]
