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
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.errors import AccountDisabled, SessionRevoked
from app.auth.models import AuthSession
from app.db import reading
from app.infra import metrics
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
        self._started_in: int | None = None
        self._redis_listening = threading.Event()
        self._closing = threading.Event()
        self._publisher: redis.Redis | None = None

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

    def _start(self) -> None:
        # Threads do not survive a fork: a worker forked from a process that had started them
        # starts its own (under gevent these "threads" are greenlets).
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._started_in = os.getpid()
        if self._redis_url is not None:
            threading.Thread(target=self._listen, name="notice-hub-redis", daemon=True).start()
        threading.Thread(target=self._poll, name="notice-hub-poller", daemon=True).start()
        threading.Thread(target=self._check_sign_ins, name="notice-hub-sign-ins", daemon=True).start()

    def _listen(self) -> None:
        failures = 0
        while True:
            client = redis.Redis.from_url(self._redis_url, socket_connect_timeout=1, health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANNEL)
                self._redis_listening.set()
                failures = 0
                log.info("Notice hub listening on Redis channel %s", CHANNEL)
                # Whatever was published while we were not listening is lost: everyone looks again.
                self._ring()
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._ring(json.loads(message["data"]))
            except (redis.RedisError, OSError, ValueError) as error:
                if self._redis_listening.is_set():
                    log.warning("Redis went away (%s); notice streams poll the database until it is back", error)
                self._redis_listening.clear()
                time.sleep(REDIS_RETRY_SECONDS[min(failures, len(REDIS_RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                pubsub.close()
                client.close()

    def _poll(self) -> None:
        watermark: int | None = None
        while True:
            time.sleep(self._poll_seconds)
            if self._redis_listening.is_set() or not self._subscriptions:
                # Read afresh when polling resumes, after the streams have been rung to catch up themselves.
                watermark = None
                continue
            try:
                with reading(self._sessions) as session:
                    if watermark is None:
                        watermark = session.scalar(select(func.coalesce(func.max(Notice.seq), 0)))
                        self._ring()
                        continue
                    fresh = session.execute(
                        select(Notice.recipient_id, func.max(Notice.seq))
                        .where(Notice.seq > watermark)
                        .group_by(Notice.recipient_id)
                    ).all()
            except Exception:
                log.exception("Polling for new notices failed; trying again")
                continue
            if fresh:
                watermark = max(seq for _, seq in fresh)
                self._ring(user_id for user_id, _ in fresh)

    def _check_sign_ins(self) -> None:
        """End the streams whose sign-in ended (logout, user or enterprise disabled): one query for them all.

        Per stream this would be thousands of queries a minute in a worker holding thousands of streams.
        """
        while True:
            time.sleep(self._sign_in_check_seconds)
            with self._lock:
                open_streams = [s for subscriptions in self._subscriptions.values() for s in subscriptions]
            if not open_streams:
                continue
            try:
                ended = self._ended_sign_ins({subscription.auth_session_id for subscription in open_streams})
            except Exception:
                log.exception("Checking the sign-ins of open streams failed; trying again")
                continue
            for subscription in open_streams:
                if subscription.auth_session_id in ended:
                    subscription.ended_because = ended[subscription.auth_session_id]
                    subscription.ring()

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


@event.listens_for(Session, "after_flush")
def _remember_new_notices(session: Session, _context: Any) -> None:
    recipients = {instance.recipient_id for instance in session.new if isinstance(instance, Notice)}
    if recipients:
        session.info.setdefault("notice_recipients_to_wake", set()).update(recipients)


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    recipients = session.info.pop("notice_recipients_to_wake", None)
    hub: NoticeHub | None = session.info.get("notice_hub")
    if recipients and hub is not None:
        hub.committed(recipients)


@event.listens_for(Session, "after_rollback")
def _forget_new_notices(session: Session) -> None:
    session.info.pop("notice_recipients_to_wake", None)


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
