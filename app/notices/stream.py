"""Live notices: one read per wake-up for every stream open in this worker, handed to each stream of its user.

The database is the truth; this module only decides when to read it, and reads it once for all. Each worker's
`NoticeHub` keeps a watermark (the highest seq it has read) and one reader loop. A wake-up (a local commit through
`committed`, another worker's through Redis, or without Redis a poll once a second) asks the reader to read; rings
while it reads only mark "read again". One read is one statement per `READ_CHUNK` users subscribed here:
`seq > watermark AND recipient_id = ANY(:users)` (IN elsewhere: app/infra/arrays.py; as an IN list of a thousand
users, psycopg parsed the statement's text afresh for every read), ordered by seq, each notice rendered once and
handed to every stream of its recipient (app/notices/subscription.py). With Redis each worker keeps one pub/sub
subscription (not one per client). A lost wake-up only delays a notice until the next one; it cannot lose it.

Why a watermark read never skips a notice: seq is assigned at COMMIT under a lock held until the commit is visible
(migrations 0011 and 0017; on SQLite the writers take turns), so once seq N is visible every seq below N is too. The
read takes its upper bound, `max(seq)`, in the same statement as the rows, so everything up to the bound is in it.

Why a stream gets each notice at least once and in order (never a gap; read twice at most, the second dropped by
seq): a stream subscribes first and only then reads what it missed from the database itself (`notices_after`, from
the client's Last-Event-ID). Say the hub's watermark is W when it subscribes and no read is under way. Every notice
up to W was visible before the subscription, so the stream's own read, which begins after it, sees those of its
user; every read from then on includes the stream's user and covers every seq above W, so hands over the rest. The
one gap would be a read already under way when the stream subscribed: its user list lacks the stream, but its bound
may pass notices that committed after the stream's own read. So each stream that subscribes while a read runs (and
every stream when the hub sets its first watermark) is told, once that read has ended, to read the database itself
again from the last seq it sent: that read begins after the bound was visible. A stream whose queue passes its cap
is told the same.
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
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.errors import AccountDisabled, SessionRevoked
from app.auth.models import AuthSession
from app.db import reading
from app.infra import arrays, metrics
from app.infra.workers import BackgroundLoops
from app.notices import service
from app.notices.models import Notice
from app.notices.subscription import QUEUE_CAP, Event, Subscription, notice_event
from app.users.models import User

log = logging.getLogger(__name__)

CHANNEL = "smart-park:notices"
STREAM_BATCH = 100
SIGN_IN_CHECK_CHUNK = 1000
# Users per statement of a hub read (bound parameters stay far below every driver's limit).
READ_CHUNK = 1000
# With Redis, a read at least this often even when nobody here was rung, so the watermark stays near the head and a
# user who subscribes later is not handed, once, the notices the database gained meanwhile.
KEEP_UP_SECONDS = 30.0
REDIS_RETRY_SECONDS = (0.5, 1, 2, 5)


class NoticeHub:
    """Per worker process: the streams open here, when to read their users' new notices, and the one reader."""

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
        # Set by a wake-up; the reader clears it as a read begins, so a ring during a read means one more read.
        self._wanted = threading.Event()
        self._loops = BackgroundLoops("notice-hub", log=log, wake=self._wanted.set)
        self._redis_listening = threading.Event()
        self._closing = threading.Event()
        self._publisher: redis.Redis | None = None
        # Highest seq read (None: not read yet, or nobody was subscribed). Only the reader loop writes it.
        self._watermark: int | None = None
        # While a read runs: the streams that subscribed after it took its list of users (they catch up after it).
        self._joined_during_read: list[Subscription] | None = None
        self.queue_cap = QUEUE_CAP

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
        for subscription in self._all_subscriptions():
            subscription.ring()

    @property
    def open_streams(self) -> int:
        with self._lock:
            return sum(len(subscriptions) for subscriptions in self._subscriptions.values())

    @contextmanager
    def subscribe(self, user_id: int, auth_session_id: uuid.UUID) -> Iterator[Subscription]:
        self._start()
        subscription = Subscription(user_id, auth_session_id, cap=self.queue_cap)
        with self._lock:
            self._subscriptions[user_id].add(subscription)
            if self._joined_during_read is not None:
                self._joined_during_read.append(subscription)
        if self._watermark is None:
            self._wanted.set()
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
                nobody = not self._subscriptions
            if nobody:
                # The reader forgets its watermark: the next stream starts it afresh, at the database's head.
                self._wanted.set()

    def committed(self, recipients: Iterable[int]) -> None:
        """Notices for `recipients` have committed (in this process): read here and tell the other workers."""
        recipients = set(recipients)
        self._wake(recipients)
        if self._redis_url is None:
            return
        try:
            if self._publisher is None:
                self._publisher = redis.Redis.from_url(self._redis_url, socket_timeout=1, socket_connect_timeout=1)
            self._publisher.publish(CHANNEL, json.dumps(sorted(recipients)))
        except redis.RedisError as error:
            # The other workers' pollers take over while Redis is away; the notice itself is committed.
            log.warning("Could not publish a notice wake-up to Redis: %s", error)

    def _wake(self, recipients: Iterable[int]) -> None:
        """Ask for a read if any of `recipients` has a stream open here."""
        with self._lock:
            wanted = any(user_id in self._subscriptions for user_id in recipients)
        if wanted:
            self._wanted.set()

    def _all_subscriptions(self) -> list[Subscription]:
        with self._lock:
            return [s for subscriptions in self._subscriptions.values() for s in subscriptions]

    def stop(self) -> None:
        """Stop reading, listening and checking sign-ins in this process (streams still open are not rung again)."""
        self._loops.stop()

    def _start(self) -> None:
        loops = {} if self._redis_url is None else {"notice-hub-redis": self._listen}
        self._loops.start(loops | {"notice-hub-reader": self._read, "notice-hub-sign-ins": self._check_sign_ins})

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
                # Whatever was published while we were not listening is lost: read once to be sure.
                self._wanted.set()
                while not self._loops.stopping:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._wake(json.loads(message["data"]))
            except (redis.RedisError, OSError, ValueError) as error:
                if self._redis_listening.is_set():
                    log.warning("Redis went away (%s); notice streams poll the database until it is back", error)
                self._redis_listening.clear()
                # The reader polls from now on; it may be waiting out the longer wait it takes while Redis is up.
                self._wanted.set()
                self._loops.wait(REDIS_RETRY_SECONDS[min(failures, len(REDIS_RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                pubsub.close()
                client.close()

    def _read(self) -> None:
        self._loops.run(
            self._read_once, failure="Reading new notices for the open streams failed; trying again", retry_seconds=1
        )

    def _read_once(self) -> float:
        """Wait for a wake-up (or, without Redis, a poll's turn), then read the new notices of everyone here."""
        idle = KEEP_UP_SECONDS if self._redis_listening.is_set() else self._poll_seconds
        self._wanted.wait(idle)
        self._wanted.clear()
        if self._loops.stopping:
            return 0
        with self._lock:
            users = sorted(self._subscriptions)
            if not users:
                self._watermark = None
                return 0
            starting = self._watermark is None
            self._joined_during_read = []
        caught_up: list[Subscription] = []
        try:
            if starting:
                with reading(self._sessions) as session:
                    self._watermark = session.scalar(select(func.coalesce(func.max(Notice.seq), 0)))
            else:
                self._hand_over(self._read_notices(users))
        except Exception:
            self._wanted.set()
            raise
        finally:
            with self._lock:
                caught_up = self._all_locked() if starting else self._joined_during_read
                self._joined_during_read = None
            # A stream that subscribed during the read (or before the first watermark) reads the gap itself.
            for subscription in caught_up:
                subscription.catch_up()
        return 0

    def _all_locked(self) -> list[Subscription]:
        return [s for subscriptions in self._subscriptions.values() for s in subscriptions]

    def _read_notices(self, users: list[int]) -> dict[int, list[Event]]:
        """Each user's notices above the watermark, rendered, in seq order; moves the watermark to the read's bound."""
        after = self._watermark
        events: dict[int, list[Event]] = defaultdict(list)
        with reading(self._sessions) as session:
            # The first chunk's statement finds the bound beside the rows (one row with no notice when none is new);
            # the other chunks stop at it. Everything up to the bound was visible when it was taken.
            head = select(func.coalesce(func.max(Notice.seq), 0).label("seq")).subquery("head")
            rows = session.execute(
                select(head.c.seq, Notice)
                .select_from(head)
                .outerjoin(
                    Notice,
                    and_(
                        Notice.seq > after,
                        Notice.seq <= head.c.seq,
                        arrays.one_of(session, Notice.recipient_id, users[:READ_CHUNK]),
                    ),
                )
                .order_by(Notice.seq)
            ).all()
            bound = rows[0][0]
            notices = [notice for _, notice in rows if notice is not None]
            for start in range(READ_CHUNK, len(users), READ_CHUNK):
                notices += session.scalars(
                    select(Notice)
                    .where(
                        Notice.seq > after,
                        Notice.seq <= bound,
                        arrays.one_of(session, Notice.recipient_id, users[start : start + READ_CHUNK]),
                    )
                    .order_by(Notice.seq)
                )
            for notice in notices:
                events[notice.recipient_id].append(notice_event(notice))
        # A purge of everything would lower max(seq); the watermark never goes back.
        self._watermark = max(after, bound)
        return events

    def _hand_over(self, events: dict[int, list[Event]]) -> None:
        with self._lock:
            receivers = [(s, events[user_id]) for user_id in events for s in self._subscriptions.get(user_id, ())]
        for subscription, theirs in receivers:
            subscription.deliver(theirs)

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


# Where a transaction keeps who gets a notice it wrote, until it commits (app/infra/session_events.py).
WAKE_KEY = "notice_recipients_to_wake"


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

    Subscribing comes first and reading second (the module docstring says why nothing falls between them): the
    stream reads what it missed itself, then sends what the hub hands it, dropping what it has sent already by
    seq. It reads the database again only when the hub says so. No database session is held while waiting.
    """
    with hub.subscribe(recipient.id, auth_session_id) as subscription:
        yield f"retry: {retry_ms}\n: connected\n\n"
        last_seq = after_seq
        catching_up = True
        while True:
            if subscription.ended_because is not None:
                # Logged out or disabled elsewhere: say so once, then end; the app signs in again.
                yield f"event: signed_out\ndata: {json.dumps({'code': subscription.ended_because})}\n\n"
                return
            handed, told_to_catch_up = subscription.take()
            if catching_up or told_to_catch_up:
                with reading(sessions) as session:
                    # The route checked the starting cursor; a purge while the stream is open removes only
                    # notices past retention, far behind what the stream has already sent.
                    feed = service.notices_after(session, recipient=recipient, after_seq=last_seq, limit=STREAM_BATCH)
                handed = [notice_event(notice) for notice in feed.items]
                catching_up = feed.has_more
            for seq, event in handed:
                if seq > last_seq:
                    yield event
                    last_seq = seq
            if hub.closing:
                return
            # Jittered, so streams opened together (after a restart) do not all write at once.
            if catching_up or subscription.wait(heartbeat_seconds * random.uniform(0.5, 1.0)):
                continue
            # Also how a vanished client is noticed: writing to its socket fails.
            yield ": heartbeat\n\n"
