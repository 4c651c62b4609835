import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.common import clock
from app.i18n import N_
from app.notices import service
from app.notices.models import NoticeKind, StreamTicket
from app.notices.service import Message
from app.users.models import Language, Role, User
from tests.factories import make_declaration, make_device, make_user

NOTICES = "/api/v1/notices"


def notify(session, user, kind=NoticeKind.DECLARATION_ACCEPTED, *, source=None, declaration_id=None):
    made = service.notify_enterprise(
        session,
        enterprise_id=user.enterprise_id,
        roles=[user.role],
        kind=kind,
        title=Message(N_("Accepted by customs")),
        body=Message("body"),
        source_key=source or f"test/{uuid.uuid4()}",
        declaration_id=declaration_id,
    )
    session.flush()
    return made


def test_notices_go_to_the_enterprises_active_users_of_the_role(session, declarant):
    colleague = make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)
    make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise, is_active=False)
    make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=declarant.enterprise)
    make_user(session, role=Role.DECLARANT)

    made = notify(session, declarant)

    assert sorted(notice.recipient_id for notice in made) == sorted([declarant.id, colleague.id])


def test_each_recipient_reads_their_own_language(session, declarant):
    english = make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise, language=Language.EN)

    made = {notice.recipient_id: notice.title for notice in notify(session, declarant)}

    assert made == {declarant.id: "清单已被海关接收", english.id: "Accepted by customs"}


def test_one_source_event_notifies_a_person_once(session, declarant):
    notify(session, declarant, source="declaration/1/accepted")

    with pytest.raises(IntegrityError):
        notify(session, declarant, source="declaration/1/accepted")


def test_catch_up_returns_everything_after_the_cursor_in_order(client, session, declarant, auth_headers):
    made = [notify(session, declarant)[0] for _ in range(5)]
    headers = auth_headers(declarant)

    first = client.get(NOTICES, query_string={"after_seq": 0, "limit": 3}, headers=headers).json
    second = client.get(NOTICES, query_string={"after_seq": first["next_after_seq"], "limit": 3}, headers=headers).json
    idle = client.get(NOTICES, query_string={"after_seq": second["next_after_seq"]}, headers=headers).json

    seqs = [item["seq"] for item in first["items"] + second["items"]]
    assert seqs == [notice.seq for notice in made]
    assert (first["has_more"], second["has_more"]) == (True, False)
    assert idle == {"items": [], "next_after_seq": second["next_after_seq"], "has_more": False}
    assert first["items"][0]["id"] == str(made[0].notice_id)


def test_users_only_see_their_own_notices(client, session, declarant, auth_headers):
    notify(session, declarant)

    assert client.get(NOTICES, headers=auth_headers(make_user(session))).json["items"] == []


def test_inspection_notices_are_high_priority(client, session, declarant, auth_headers):
    declaration = make_declaration(session, declarant=declarant)
    notify(session, declarant, NoticeKind.INSPECTION_ISSUED, declaration_id=declaration.id)

    item = client.get(NOTICES, headers=auth_headers(declarant)).json["items"][0]

    assert item["priority"] == "high"
    assert item["link"] == f"/api/v1/declarations/{declaration.id}"


def test_ack_covers_everything_up_to_a_seq(client, session, declarant, auth_headers):
    made = [notify(session, declarant)[0] for _ in range(3)]
    headers = auth_headers(declarant)

    acked = client.post(f"{NOTICES}/ack", json={"up_to_seq": made[1].seq}, headers=headers)
    again = client.post(f"{NOTICES}/ack", json={"up_to_seq": made[1].seq}, headers=headers)

    assert (acked.json, again.json) == ({"updated": 2}, {"updated": 0})
    items = client.get(NOTICES, headers=headers).json["items"]
    assert [item["acknowledged_at"] is not None for item in items] == [True, True, False]


def test_ack_cannot_touch_other_peoples_notices(client, session, declarant, auth_headers):
    theirs = notify(session, declarant)[0]

    response = client.post(f"{NOTICES}/ack", json={"up_to_seq": theirs.seq}, headers=auth_headers(make_user(session)))

    assert response.json == {"updated": 0}


def test_read_marks_single_notices(client, session, declarant, auth_headers):
    first, second = notify(session, declarant)[0], notify(session, declarant)[0]
    headers = auth_headers(declarant)

    response = client.post(f"{NOTICES}/read", json={"ids": [str(second.notice_id)]}, headers=headers)

    assert response.json == {"updated": 1}
    items = {item["seq"]: item for item in client.get(NOTICES, headers=headers).json["items"]}
    assert items[second.seq]["read_at"] and items[second.seq]["acknowledged_at"]
    assert items[first.seq]["read_at"] is None


def test_a_cursor_older_than_retention_is_told_to_reload(app, client, session, declarant, auth_headers, monkeypatch):
    headers = auth_headers(declarant)
    old = [notify(session, declarant)[0] for _ in range(2)]
    oldest_seq = old[0].seq
    later = old[-1].created_at + timedelta(days=91)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    kept = notify(session, declarant)[0]
    kept.created_at = later
    session.flush()

    result = app.test_cli_runner().invoke(args=["notices", "purge", "--days", "90"])

    assert result.exit_code == 0, result.output
    expired = client.get(NOTICES, query_string={"after_seq": oldest_seq}, headers=headers)
    assert expired.status_code == 410
    assert expired.json["code"] == "cursor_expired"
    fresh = client.get(NOTICES, query_string={"after_seq": 0}, headers=headers).json
    assert [item["seq"] for item in fresh["items"]] == [kept.seq]


def test_a_user_switches_notices_to_english(client, session, declarant, auth_headers):
    response = client.patch("/api/v1/me", json={"language": "en"}, headers=auth_headers(declarant))

    assert response.json["language"] == "en"
    session.refresh(declarant)
    assert notify(session, declarant)[0].title == "Accepted by customs"


@pytest.mark.postgres_only
def test_seq_order_is_commit_order_so_a_caught_up_cursor_misses_nothing(racing_app):
    factory = racing_app.extensions["sessionmaker"]
    with factory() as setup, setup.begin():
        user_id = make_user(setup, role=Role.DECLARANT).id
    slow, quick = factory(), factory()
    slow.begin()
    written_first = notify(slow, slow.get(User, user_id))[0].notice_id
    with quick.begin():
        written_second = notify(quick, quick.get(User, user_id))[0].notice_id

    with factory() as reader:
        caught_up = service.notices_after(reader, recipient=reader.get(User, user_id), after_seq=0, limit=10)
    slow.commit()
    with factory() as reader:
        later = service.notices_after(
            reader, recipient=reader.get(User, user_id), after_seq=caught_up.next_after_seq, limit=10
        )
    slow.close()
    quick.close()

    # Numbered at INSERT, the slow transaction's notice would sit below the cursor the reader had already
    # moved past it, and the app would never see it.
    assert [notice.notice_id for notice in caught_up.items] == [written_second]
    assert [notice.notice_id for notice in later.items] == [written_first]


def test_admins_see_how_fast_notices_reached_people(client, session, declarant, auth_headers):
    admin = make_user(session, role=Role.ADMIN)
    make_device(session, user=declarant)
    now = clock.utcnow()
    timings_ms = [(200, 900), (400, 1500), (None, None)]
    for sent_ms, acknowledged_ms in timings_ms:
        (notice,) = notify(session, declarant)
        notice.created_at = now - timedelta(minutes=1)
        notice.first_sent_at = notice.created_at + timedelta(milliseconds=sent_ms) if sent_ms else None
        notice.acknowledged_at = (
            notice.created_at + timedelta(milliseconds=acknowledged_ms) if acknowledged_ms else None
        )
    (overdue,) = notify(session, declarant, NoticeKind.INSPECTION_ISSUED)
    overdue.created_at = now - timedelta(minutes=6)
    notify(session, declarant, NoticeKind.INSPECTION_ISSUED)  # four minutes short of overdue
    session.flush()
    window = {"since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=1)).isoformat()}

    figures = client.get(f"{NOTICES}/figures", query_string=window, headers=auth_headers(admin))

    assert figures.status_code == 200, figures.json
    body = figures.json
    assert body["notices"] == 5
    assert body["decision_to_push"] == {"count": 2, "median_ms": 300.0, "p99_ms": pytest.approx(398.0)}
    assert body["decision_to_app"]["median_ms"] == 1200.0
    assert body["unacknowledged_inspection_notices"] == 1
    assert body["deliveries"]["pending"] == 5


def test_delivery_figures_are_for_admins(client, declarant, auth_headers):
    window = {"since": "2026-11-01T00:00:00+08:00", "until": "2026-11-02T00:00:00+08:00"}

    response = client.get(f"{NOTICES}/figures", query_string=window, headers=auth_headers(declarant))

    assert response.status_code == 403


def test_purge_drops_spent_and_expired_stream_tickets(app, client, session, declarant, auth_headers):
    headers = auth_headers(declarant)
    spent, expired, fresh = (client.post(f"{NOTICES}/stream-ticket", headers=headers).json["ticket"] for _ in range(3))
    service.redeem_stream_ticket(session, spent)
    session.execute(
        update(StreamTicket)
        .where(StreamTicket.ticket_hash == hashlib.sha256(expired.encode()).digest())
        .values(expires_at=clock.utcnow() - timedelta(seconds=1))
    )

    result = app.test_cli_runner().invoke(args=["notices", "purge"])

    assert result.exit_code == 0, result.output
    assert "Purged 2 spent or expired stream tickets." in result.output
    user, _ = service.redeem_stream_ticket(session, fresh)
    assert user.id == declarant.id
