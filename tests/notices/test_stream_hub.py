"""The worker's notice hub: one read per wake-up for every open stream, and nothing lost on the way.

Each test runs an app of its own on a scratch database. Polling is an hour apart, so only this app's own commits
wake its hub: every read the tests count is one they caused.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event, select

from app.i18n import N_
from app.notices import service
from app.notices.models import Notice, NoticeKind
from app.notices.service import Message
from app.users.models import Role, User
from tests.conftest import scratch_app
from tests.notices.test_stream import Stream, commit_notice, commit_user, open_stream

# Time enough for the hub's reader (a thread of its own) to act on what a test just committed.
SETTLE_SECONDS = 0.5


@pytest.fixture
def hub_app(tmp_path) -> Iterator[Flask]:
    with scratch_app(tmp_path, stream_heartbeat_seconds=0.2, stream_poll_seconds=3600) as app:
        yield app


class NoticeReads:
    """The SELECTs from the notices table on the app's engine while open, by the thread that made them."""

    def __init__(self, app: Flask) -> None:
        self.engine = app.extensions["engine"]
        self.threads: list[int] = []

    def __enter__(self) -> NoticeReads:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM notices" in statement:
            self.threads.append(threading.get_ident())

    def by(self, thread_id: int) -> int:
        return self.threads.count(thread_id)


def commit_notices(app: Flask, users: list[User]) -> None:
    """One notice for each user, in one transaction (as a customs document notifies many enterprises)."""
    with app.extensions["sessionmaker"].begin() as session:
        for user in users:
            service.notify_enterprise(
                session,
                enterprise_id=user.enterprise_id,
                roles=[Role.DECLARANT],
                kind=NoticeKind.DECLARATION_RELEASED,
                title=Message(N_("Released")),
                body=Message("body"),
                source_key=f"test/{uuid.uuid4()}",
            )


def latest_seq(app: Flask, user: User) -> int:
    with app.extensions["sessionmaker"]() as session:
        return session.scalar(select(Notice.seq).where(Notice.recipient_id == user.id).order_by(Notice.seq.desc()))


def test_many_streams_of_many_users_are_served_by_one_notice_read_per_wake_up(hub_app):
    users = [commit_user(hub_app) for _ in range(8)]
    streams: list[tuple[User, Stream]] = []
    try:
        for user, token in users:
            for _ in range(3):
                stream = open_stream(hub_app, token=token)
                stream.next_block()
                streams.append((user, stream))
        # Every stream caught up by itself once; from here on the hub reads for them.
        commit_notices(hub_app, [user for user, _ in users])
        for _, stream in streams:
            stream.notices(1)
        time.sleep(SETTLE_SECONDS)

        with NoticeReads(hub_app) as reads:
            commit_notices(hub_app, [user for user, _ in users])
            arrived = [(user, stream.notices(1)[0]) for user, stream in streams]
            time.sleep(SETTLE_SECONDS)
    finally:
        for _, stream in streams:
            stream.close()

    assert len(reads.threads) == 1, f"{len(reads.threads)} reads of the notices for one wake-up of 24 streams"
    assert reads.by(threading.get_ident()) == 0, "a stream read the database itself"
    assert all(notice["id"] == latest_seq(hub_app, user) for user, notice in arrived)


def test_a_stream_whose_client_lags_past_the_cap_still_gets_every_notice_in_order(hub_app):
    hub_app.extensions["notice_hub"].queue_cap = 3
    user, token = commit_user(hub_app)
    stream = open_stream(hub_app, token=token)
    try:
        stream.next_block()
        warm_up = commit_notice(hub_app, user)
        assert stream.notices(1)[0]["id"] == warm_up
        time.sleep(SETTLE_SECONDS)

        # The client reads nothing while ten notices commit one by one: the hub hands over more than the cap.
        sent = [commit_notice(hub_app, user) for _ in range(10)]
        time.sleep(SETTLE_SECONDS)
        with NoticeReads(hub_app) as reads:
            received = stream.notices(10)
    finally:
        stream.close()

    assert [notice["id"] for notice in received] == sent
    # Past the cap the hub let go of them, and the stream read them itself: once.
    assert reads.by(threading.get_ident()) == 1


def test_a_notice_committed_right_after_a_stream_caught_up_still_arrives(hub_app, monkeypatch):
    user, token = commit_user(hub_app)
    missed = commit_notice(hub_app, user)
    committed_meanwhile: list[int] = []
    read_what_was_missed = service.notices_after

    def then_commit_one(session, **kwargs):
        feed = read_what_was_missed(session, **kwargs)
        if not committed_meanwhile:
            committed_meanwhile.append(commit_notice(hub_app, user))
        return feed

    monkeypatch.setattr(service, "notices_after", then_commit_one)
    stream = open_stream(hub_app, token=token)
    try:
        stream.next_block()
        received = stream.notices(2)
    finally:
        stream.close()

    assert [notice["id"] for notice in received] == [missed, *committed_meanwhile]


def test_a_stream_opened_while_the_hub_reads_gets_what_that_read_passed_over(hub_app, monkeypatch):
    # The hub's read takes its list of users, a stream opens and catches up, a notice for it commits, and only then
    # does the read's statement run: its bound passes that notice without handing it to the new stream.
    hub = hub_app.extensions["notice_hub"]
    other, other_token = commit_user(hub_app)
    user, token = commit_user(hub_app)
    others = open_stream(hub_app, token=other_token)
    stream: Stream | None = None
    started, go = threading.Event(), threading.Event()
    try:
        others.next_block()
        warm_up = commit_notice(hub_app, other)
        assert others.notices(1)[0]["id"] == warm_up
        time.sleep(SETTLE_SECONDS)

        read_notices = hub._read_notices

        def held(users):
            started.set()
            assert go.wait(10)
            return read_notices(users)

        monkeypatch.setattr(hub, "_read_notices", held)
        for_other = commit_notice(hub_app, other)
        assert started.wait(5)
        stream = open_stream(hub_app, token=token)
        stream.next_block()
        # Caught up (nothing yet), and waiting: its first heartbeat.
        assert stream.next_block() == ": heartbeat\n\n"
        passed_over = commit_notice(hub_app, user)
        go.set()
        received = stream.notices(1)
        assert others.notices(1)[0]["id"] == for_other
    finally:
        go.set()
        others.close()
        if stream is not None:
            stream.close()

    assert received[0]["id"] == passed_over
