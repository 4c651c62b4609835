"""The live event stream, on an app of its own: the stream reads what other transactions commit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from app import create_app
from app.auth import service as auth
from app.common import clock
from app.i18n import N_
from app.notices import service
from app.notices.models import Notice, NoticeKind, StreamTicket
from app.notices.service import Message
from app.users.models import Role, User
from tests.conftest import scratch_app
from tests.databases import REDIS_URL
from tests.factories import make_user

STREAM = "/api/v1/notices/stream"


@pytest.fixture
def stream_app(tmp_path) -> Iterator[Flask]:
    # Short heartbeats keep an idle stream's reads quick; polling is what carries notices between apps.
    with scratch_app(tmp_path, stream_heartbeat_seconds=0.2, stream_poll_seconds=0.05) as app:
        yield app


class Stream:
    """An open event stream read chunk by chunk, as a phone would."""

    def __init__(self, response) -> None:
        self.response = response
        self._chunks = iter(response.response)

    def next_block(self) -> str:
        return next(self._chunks).decode()

    def notices(self, count: int, *, max_blocks: int = 50) -> list[dict]:
        """The next `count` notice events, skipping heartbeats."""
        found: list[dict] = []
        for _ in range(max_blocks):
            block = self.next_block()
            if "event: notice" in block:
                fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
                found.append({"id": int(fields["id"]), "data": fields["data"]})
                if len(found) == count:
                    return found
        raise AssertionError(f"only {len(found)} of {count} notices arrived")

    def close(self) -> None:
        self.response.close()


def commit_user(app: Flask, **overrides) -> tuple[User, str]:
    with app.extensions["sessionmaker"].begin() as session:
        user = make_user(session, role=Role.DECLARANT, **overrides)
        pair = auth.open_session(
            session, user, client_addr="127.0.0.1", user_agent="pytest", settings=app.extensions["settings"]
        )
    return user, pair.access_token


def commit_notice(app: Flask, user: User) -> int:
    """A committed notice's seq, which the database assigns as the transaction commits."""
    with app.extensions["sessionmaker"].begin() as session:
        (notice,) = service.notify_enterprise(
            session,
            enterprise_id=user.enterprise_id,
            roles=[Role.DECLARANT],
            kind=NoticeKind.DECLARATION_RELEASED,
            title=Message(N_("Released")),
            body=Message("body"),
            source_key=f"test/{uuid.uuid4()}",
        )
    with app.extensions["sessionmaker"]() as session:
        return session.scalar(select(Notice.seq).where(Notice.id == notice.id))


def open_stream(app: Flask, *, token: str | None = None, **kwargs) -> Stream:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = app.test_client().get(STREAM, headers=headers, buffered=False, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return Stream(response)


def test_stream_replays_missed_notices_then_delivers_new_ones(stream_app):
    user, token = commit_user(stream_app)
    missed = [commit_notice(stream_app, user) for _ in range(2)]

    stream = open_stream(stream_app, token=token)
    try:
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        assert stream.response.headers["Cache-Control"] == "no-cache"
        assert stream.next_block().startswith("retry: ")
        replayed = stream.notices(2)
        live = commit_notice(stream_app, user)
        (arrived,) = stream.notices(1)
    finally:
        stream.close()

    assert [event["id"] for event in replayed] == missed
    assert arrived["id"] == live
    assert '"kind": "declaration.released"' in arrived["data"]
    assert '"title": "清单已放行"' in arrived["data"]


def test_a_reconnect_with_last_event_id_resumes_without_gap_or_duplicate(stream_app):
    user, token = commit_user(stream_app)
    first = commit_notice(stream_app, user)
    stream = open_stream(stream_app, token=token)
    try:
        (seen,) = stream.notices(1)
    finally:
        stream.close()
    while_away = [commit_notice(stream_app, user) for _ in range(2)]

    # The browser reconnects to the URL it first opened (after_seq=0) and adds the header.
    again = open_stream(
        stream_app, token=token, query_string={"after_seq": 0}, headers={"Last-Event-ID": str(seen["id"])}
    )
    try:
        resumed = again.notices(2)
    finally:
        again.close()

    assert seen["id"] == first
    assert [event["id"] for event in resumed] == while_away


def test_after_seq_starts_the_first_connection_where_the_app_left_off(stream_app):
    user, token = commit_user(stream_app)
    known = commit_notice(stream_app, user)
    fresh = commit_notice(stream_app, user)

    stream = open_stream(stream_app, token=token, query_string={"after_seq": known})
    try:
        (event,) = stream.notices(1)
    finally:
        stream.close()

    assert event["id"] == fresh


def test_other_users_notices_never_reach_the_stream(stream_app):
    user, token = commit_user(stream_app)
    stranger, _ = commit_user(stream_app)
    stream = open_stream(stream_app, token=token)
    try:
        stream.next_block()
        commit_notice(stream_app, stranger)
        mine = commit_notice(stream_app, user)
        (event,) = stream.notices(1)
    finally:
        stream.close()

    assert event["id"] == mine


def test_an_idle_stream_sends_heartbeats(stream_app):
    _, token = commit_user(stream_app)
    stream = open_stream(stream_app, token=token)
    try:
        blocks = [stream.next_block() for _ in range(3)]
    finally:
        stream.close()

    assert blocks[1:] == [": heartbeat\n\n", ": heartbeat\n\n"]


@pytest.mark.parametrize(
    ("end_it", "code"),
    [
        (
            lambda session, user: auth.revoke_user_sessions(session, user, reason=auth.RevokeReason.LOGOUT),
            "session_revoked",
        ),
        (lambda session, user: setattr(user, "is_active", False), "account_disabled"),
        (lambda session, user: setattr(user.enterprise, "is_active", False), "account_disabled"),
    ],
    ids=["logout", "user-disabled", "enterprise-disabled"],
)
def test_the_stream_ends_when_its_sign_in_ends(stream_app, end_it, code):
    user, token = commit_user(stream_app)
    stream = open_stream(stream_app, token=token)
    stream.next_block()
    with stream_app.extensions["sessionmaker"].begin() as session:
        end_it(session, session.get(User, user.id))

    blocks = list(stream._chunks)

    assert blocks[-1].decode() == f'event: signed_out\ndata: {{"code": "{code}"}}\n\n'


def test_a_ticket_opens_one_stream_once(stream_app):
    user, token = commit_user(stream_app)
    client = stream_app.test_client()
    issued = client.post(f"{STREAM}-ticket", headers={"Authorization": f"Bearer {token}"})
    assert issued.status_code == 201
    ticket = issued.json["ticket"]
    assert issued.json["expires_in"] == 60
    notice = commit_notice(stream_app, user)

    stream = open_stream(stream_app, query_string={"ticket": ticket})
    try:
        (event,) = stream.notices(1)
    finally:
        stream.close()
    replayed = client.get(STREAM, query_string={"ticket": ticket})

    assert event["id"] == notice
    assert replayed.status_code == 401
    assert replayed.json["code"] == "stream_ticket_invalid"


def test_an_expired_ticket_is_refused(stream_app):
    _, token = commit_user(stream_app)
    client = stream_app.test_client()
    ticket = client.post(f"{STREAM}-ticket", headers={"Authorization": f"Bearer {token}"}).json["ticket"]
    with stream_app.extensions["sessionmaker"].begin() as session:
        session.execute(update(StreamTicket).values(expires_at=clock.utcnow() - timedelta(seconds=1)))

    response = client.get(STREAM, query_string={"ticket": ticket})

    assert response.status_code == 401
    assert response.json["code"] == "stream_ticket_invalid"


def test_a_ticket_dies_with_its_sign_in(stream_app):
    _, token = commit_user(stream_app)
    client = stream_app.test_client()
    ticket = client.post(f"{STREAM}-ticket", headers={"Authorization": f"Bearer {token}"}).json["ticket"]
    client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})

    response = client.get(STREAM, query_string={"ticket": ticket})

    assert response.status_code == 401
    assert response.json["code"] == "session_revoked"


@pytest.mark.parametrize(
    ("signed_in", "request_kwargs", "status", "code"),
    [
        (False, {}, 401, "authentication_required"),
        (False, {"query_string": {"ticket": "x" * 43}}, 401, "stream_ticket_invalid"),
        (True, {"query_string": {"after_seq": -1}}, 422, "validation_failed"),
        (True, {"headers": {"Last-Event-ID": "seven"}}, 422, "validation_failed"),
    ],
)
def test_a_stream_that_cannot_open_answers_a_problem(stream_app, signed_in, request_kwargs, status, code):
    _, token = commit_user(stream_app)
    headers = request_kwargs.pop("headers", {})
    if signed_in:
        headers["Authorization"] = f"Bearer {token}"

    response = stream_app.test_client().get(STREAM, headers=headers, **request_kwargs)

    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == code


def test_a_cursor_from_before_a_purge_is_told_to_reload(stream_app):
    user, token = commit_user(stream_app)
    old = commit_notice(stream_app, user)
    commit_notice(stream_app, user)
    with stream_app.extensions["sessionmaker"].begin() as session:
        service.purge(session, created_before=clock.utcnow() + timedelta(seconds=1))

    response = stream_app.test_client().get(
        STREAM, headers={"Authorization": f"Bearer {token}", "Last-Event-ID": str(old)}
    )

    assert response.status_code == 410
    assert response.json["code"] == "cursor_expired"


def test_notices_committed_by_another_process_arrive_by_polling(stream_app):
    user, token = commit_user(stream_app)
    # A second app on the same database stands for another worker, the dispatcher or a CLI run:
    # its commits cannot ring this app's streams directly.
    elsewhere = _app_sharing_database(stream_app)
    stream = open_stream(stream_app, token=token)
    try:
        stream.next_block()
        notice = commit_notice(elsewhere, user)
        (event,) = stream.notices(1)
    finally:
        stream.close()
        elsewhere.extensions["engine"].dispose()

    assert event["id"] == notice


def test_redis_carries_a_notice_to_another_workers_stream(tmp_path):
    # Polling is switched off in effect (an hour apart): only the Redis message can ring in time.
    with scratch_app(tmp_path, stream_heartbeat_seconds=0.2, stream_poll_seconds=3600, redis_url=REDIS_URL) as app:
        user, token = commit_user(app)
        elsewhere = _app_sharing_database(app)
        stream = open_stream(app, token=token)
        try:
            stream.next_block()
            _wait_until_listening(app)
            notice = commit_notice(elsewhere, user)
            (event,) = stream.notices(1, max_blocks=10)
        finally:
            stream.close()
            elsewhere.extensions["engine"].dispose()

    assert event["id"] == notice


def _app_sharing_database(app: Flask) -> Flask:
    return create_app(app.extensions["settings"])


def _wait_until_listening(app: Flask) -> None:
    hub = app.extensions["notice_hub"]
    for _ in range(100):
        if hub.listening_to_redis:
            return
        time.sleep(0.02)
    raise AssertionError("the hub never subscribed to Redis")
