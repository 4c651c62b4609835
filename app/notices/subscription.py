"""One open event stream's side of the notice hub: a doorbell, the events the hub read for it, and a cap.

The hub (app/notices/stream.py) reads each wake-up's new notices once for every stream open in the worker and hands
each stream the events of its user here, already rendered. A stream whose client reads slowly does not make this
grow without bound: past `QUEUE_CAP` events the queue is dropped and the stream is told to read the database itself
from the last seq it sent (`take` answers `catch_up=True`), as it does when it opens. Nothing is lost either way.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence

from app.notices.models import Notice
from app.notices.schemas import NoticeRead

# Events held for one stream between its turns; a client this far behind catches up from the database instead.
QUEUE_CAP = 500

_schema = NoticeRead()

# (seq, the event's text as written to the stream)
Event = tuple[int, str]


def notice_event(notice: Notice) -> Event:
    """A notice as a Server-Sent Event: rendered once, however many streams it goes to."""
    data = json.dumps(_schema.dump(notice), ensure_ascii=False)
    return notice.seq, f"id: {notice.seq}\nevent: notice\ndata: {data}\n\n"


class Subscription:
    """One open stream: its doorbell, the events waiting for it, and whether the sign-in it was opened with ended."""

    def __init__(self, user_id: int, auth_session_id: uuid.UUID, *, cap: int = QUEUE_CAP) -> None:
        self.user_id = user_id
        self.auth_session_id = auth_session_id
        # Set by the hub's sign-in check: the problem code the stream ends with.
        self.ended_because: str | None = None
        self._cap = cap
        self._bell = threading.Event()
        self._lock = threading.Lock()
        self._queue: list[Event] = []
        self._catch_up = False

    def ring(self) -> None:
        self._bell.set()

    def wait(self, timeout: float) -> bool:
        """Block until rung or `timeout`; True when rung. Rings during the caller's next read are kept."""
        rung = self._bell.wait(timeout)
        self._bell.clear()
        return rung

    def deliver(self, events: Sequence[Event]) -> None:
        """The hub read these (in seq order) for this stream's user; past the cap, the stream reads for itself."""
        with self._lock:
            if not self._catch_up:
                if len(self._queue) + len(events) <= self._cap:
                    self._queue.extend(events)
                else:
                    self._queue.clear()
                    self._catch_up = True
        self._bell.set()

    def catch_up(self) -> None:
        """The hub may have read past notices of this stream's user without handing them over: read them yourself."""
        with self._lock:
            self._queue.clear()
            self._catch_up = True
        self._bell.set()

    def take(self) -> tuple[list[Event], bool]:
        """What the hub handed over since the last call, and whether the stream must read the database itself first.

        After a catch-up, every notice the hub read and dropped was committed before the stream's own read begins,
        so that read finds it; whatever the hub reads from then on arrives here again.
        """
        with self._lock:
            events, self._queue = self._queue, []
            catch_up, self._catch_up = self._catch_up, False
        return events, catch_up
