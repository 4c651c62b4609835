"""Live notices: wake the streams open in this worker when their user gets a notice.

The database is the truth and every stream reads its notices from there; all this module
says is "look again". With Redis each worker keeps one pub/sub subscription (not one per
client) and routes `{user, seq}` messages to its local streams. Without Redis, or while Redis
is away, one poller per worker asks the database once a second which users have new notices.
A lost wake-up only delays a notice until the next one; it cannot lose it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.errors import AccountDisabled, SessionRevoked
from app.auth.models import AuthSession
from app.db import reading
from app.infra import metrics
from app.infra.workers import BackgroundLoops
from app.notices import service
from app.notices.models import Notice
from app.notices.schemas import NoticeRead
from app.users.models import User

log = logging.getLogger(__name__)

CHANNEL = "smart-park:notices"
STREAM_BATCH = 100
SIGN_IN_CHECK_CHUNK = 1000
_schema = NoticeRead()
REDIS_RETRY_SECONDS = (0.5, 1, 2, 5)


class Subscription:
    """One open stream's doorbell, and whether the sign-in it was opened with has ended."""

    def __init__(self, user_id: int, auth_session_id: uuid.UUID) -> None:
        self.user_id = user_id
        self.auth_session_id = auth_session_id
        # Set by the hub's sign-in check: the problem code the stream ends with.
        self.ended_because: str | None = None
        self._bell = threading.Event()

    def ring(self) -> None:
        self._bell.set()

    def wait(self, timeout: float) -> bool:
        """Block until rung or `timeout`; True when rung. Rings during the caller's next read are kept."""
        rung = self._bell.wait(timeout)
        self._bell.clear()
        return rung


class NoticeHub:
    """Per worker process: which users have streams open here, and how they learn of new notices."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        redis_url: str | None,
        poll_seconds: float,
        sign_in_check_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._redis_url = redis_url
        self._poll_seconds = poll_seconds
        self._sign_in_check_seconds = sign_in_check_seconds
        self._subscriptions: dict[int, set[Subscription]] = defaultdict(set)
        self._lock = threading.Lock()
        self._loops = BackgroundLoops("notice-hub", log=log)
        self._redis_listening = threading.Event()
        self._closing = threading.Event()
        self._publisher: redis.Redis | None = None
        self._watermark: int | None = None

    @property
    def listening_to_redis(self) -> bool:
        return self._redis_listening.is_set()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def close_streams(self) -> None:
        """The worker is stopping: every stream here ends once it has sent what it has read.

        An app's stream reconnects after the `retry` it was given and resumes from its last id, on a worker that
        stays. Left open, the streams would keep a recycled worker for its whole graceful timeout, accepting nobody.
        """
        self._closing.set()
        self._ring()

    @property
    def open_streams(self) -> int:
        with self._lock:
            return sum(len(subscriptions) for subscriptions in self._subscriptions.values())

    @contextmanager
    def subscribe(self, user_id: int, auth_session_id: uuid.UUID) -> Iterator[Subscription]:
        self._start()
        subscription = Subscription(user_id, auth_session_id)
        with self._lock:
            self._subscriptions[user_id].add(subscription)
        metrics.OPEN_STREAMS.inc()
        try:
            yield subscription
        finally:
            metrics.OPEN_STREAMS.dec()
            with self._lock:
                mine = self._subscriptions[user_id]
                mine.discard(subscription)
                if not mine:
                    del self._subscriptions[user_id]

    def committed(self, recipients: Iterable[int]) -> None:
        """Notices for `recipients` have committed (in this process): ring here and tell the other workers."""
        recipients = set(recipients)
        self._ring(recipients)
        if self._redis_url is None:
            return
        try:
            if self._publisher is None:
                self._publisher = redis.Redis.from_url(self._redis_url, socket_timeout=1, socket_connect_timeout=1)
            self._publisher.publish(CHANNEL, json.dumps(sorted(recipients)))
        except redis.RedisError as error:
            # The other workers' pollers take over while Redis is away; the notice itself is committed.
            log.warning("Could not publish a notice wake-up to Redis: %s", error)

    def _ring(self, recipients: Iterable[int] | None = None) -> None:
        with self._lock:
            if recipients is None:
                chosen = [s for subscriptions in self._subscriptions.values() for s in subscriptions]
            else:
                chosen = [s for user_id in recipients for s in self._subscriptions.get(user_id, ())]
        for subscription in chosen:
            subscription.ring()

    def stop(self) -> None:
        """Stop listening, polling and checking sign-ins in this process (streams still open are not rung again)."""
        self._loops.stop()

    def _start(self) -> None:
        loops = {} if self._redis_url is None else {"notice-hub-redis": self._listen}
        self._loops.start(loops | {"notice-hub-poller": self._poll, "notice-hub-sign-ins": self._check_sign_ins})

    def _listen(self) -> None:
        failures = 0
        while not self._loops.stopping:
            client = redis.Redis.from_url(self._redis_url, socket_connect_timeout=1, health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANNEL)
                self._redis_listening.set()
                failures = 0
                log.info("Notice hub listening on Redis channel %s", CHANNEL)
                # Whatever was published while we were not listening is lost: everyone looks again.
                self._ring()
                while not self._loops.stopping:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._ring(json.loads(message["data"]))
            except (redis.RedisError, OSError, ValueError) as error:
                if self._redis_listening.is_set():
                    log.warning("Redis went away (%s); notice streams poll the database until it is back", error)
                self._redis_listening.clear()
                self._loops.wait(REDIS_RETRY_SECONDS[min(failures, len(REDIS_RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                pubsub.close()
                client.close()

    def _poll(self) -> None:
        every = self._poll_seconds
        self._loops.run(
            self._poll_once,
            failure="Polling for new notices failed; trying again",
            retry_seconds=every,
            first_wait=every,
        )

    def _poll_once(self) -> float:
        if self._redis_listening.is_set() or not self._subscriptions:
            # Read afresh when polling resumes, after the streams have been rung to catch up themselves.
            self._watermark = None
            return self._poll_seconds
        with reading(self._sessions) as session:
            if self._watermark is None:
                self._watermark = session.scalar(select(func.coalesce(func.max(Notice.seq), 0)))
                self._ring()
                return self._poll_seconds
            fresh = session.execute(
                select(Notice.recipient_id, func.max(Notice.seq))
                .where(Notice.seq > self._watermark)
                .group_by(Notice.recipient_id)
            ).all()
        if fresh:
            self._watermark = max(seq for _, seq in fresh)
            self._ring(user_id for user_id, _ in fresh)
        return self._poll_seconds

    def _check_sign_ins(self) -> None:
        """End the streams whose sign-in ended (logout, user or enterprise disabled): one query for them all.

        Per stream this would be thousands of queries a minute in a worker holding thousands of streams.
        """
        every = self._sign_in_check_seconds
        self._loops.run(
            self._check_sign_ins_once,
            failure="Checking the sign-ins of open streams failed; trying again",
            retry_seconds=every,
            first_wait=every,
        )

    def _check_sign_ins_once(self) -> float:
        with self._lock:
            open_streams = [s for subscriptions in self._subscriptions.values() for s in subscriptions]
        if open_streams:
            ended = self._ended_sign_ins({subscription.auth_session_id for subscription in open_streams})
            for subscription in open_streams:
                if subscription.auth_session_id in ended:
                    subscription.ended_because = ended[subscription.auth_session_id]
                    subscription.ring()
        return self._sign_in_check_seconds

    def _ended_sign_ins(self, auth_session_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        ended: dict[uuid.UUID, str] = {}
        ids = sorted(auth_session_ids)
        with reading(self._sessions) as session:
            for start in range(0, len(ids), SIGN_IN_CHECK_CHUNK):
                chunk = ids[start : start + SIGN_IN_CHECK_CHUNK]
                found = session.execute(
                    select(AuthSession.id, AuthSession.revoked_at, User)
                    .join(User, User.id == AuthSession.user_id)
                    .where(AuthSession.id.in_(chunk))
                ).all()
                for auth_session_id in set(chunk) - {row.id for row in found}:
                    ended[auth_session_id] = SessionRevoked.code
                for auth_session_id, revoked_at, user in found:
                    if revoked_at is not None:
                        ended[auth_session_id] = SessionRevoked.code
                    elif not user.may_sign_in:
                        ended[auth_session_id] = AccountDisabled.code
        return ended


def new_notice_recipients(session: Session) -> set[int]:
    """Who gets a notice this flush wrote: their streams are rung once it commits (app/infra/session_events.py)."""
    return {instance.recipient_id for instance in session.new if isinstance(instance, Notice)}


def notice_events(
    hub: NoticeHub,
    sessions: sessionmaker[Session],
    *,
    recipient: User,
    auth_session_id: uuid.UUID,
    after_seq: int,
    heartbeat_seconds: float,
    retry_ms: int,
) -> Iterator[str]:
    """The event-stream body: what the client missed, then each notice as it commits.

    Subscribing comes first and reading second, so a notice committing in between rings the
    bell and is read on the next turn: it can arrive twice at most (the client drops it by
    seq), never not at all. No database session is held while waiting.
    """
    with hub.subscribe(recipient.id, auth_session_id) as subscription:
        yield f"retry: {retry_ms}\n: connected\n\n"
        last_seq = after_seq
        while True:
            if subscription.ended_because is not None:
                # Logged out or disabled elsewhere: say so once, then end; the app signs in again.
                yield f"event: signed_out\ndata: {json.dumps({'code': subscription.ended_because})}\n\n"
                return
            with reading(sessions) as session:
                # The route checked the starting cursor; a purge while the stream is open removes only
                # notices past retention, far behind what the stream has already sent.
                feed = service.notices_after(session, recipient=recipient, after_seq=last_seq, limit=STREAM_BATCH)
            for notice in feed.items:
                data = json.dumps(_schema.dump(notice), ensure_ascii=False)
                yield f"id: {notice.seq}\nevent: notice\ndata: {data}\n\n"
            last_seq = feed.next_after_seq
            if hub.closing:
                return
            # Jittered, so streams opened together (after a restart) do not all write at once.
            if feed.has_more or subscription.wait(heartbeat_seconds * random.uniform(0.5, 1.0)):
                continue
            # Also how a vanished client is noticed: writing to its socket fails.
            yield ": heartbeat\n\n"
