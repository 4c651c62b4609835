"""Notices written as plain rows (app/notices/batch.py): the same rows and pushes as notify_recipients writes, and the
same streams rung at commit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.common import clock
from app.notices.batch import Fanout, notify_all
from app.notices.models import Delivery, Notice, NoticeKind
from app.notices.service import Message, Recipient, notify_recipients
from app.users.models import Language, Role
from tests.factories import make_declaration, make_device, make_user
from tests.notices.test_settings import SETTINGS, quiet_around_now

COLUMNS = ("recipient_id", "kind", "priority", "title", "body", "link", "declaration_id")


@pytest.fixture
def recipients(session):
    """A declarant reading Chinese with two phones and one reading English with none."""
    chinese = make_user(session, role=Role.DECLARANT, language=Language.ZH)
    english = make_user(session, role=Role.DECLARANT, language=Language.EN)
    phones = (make_device(session, user=chinese).id, make_device(session, user=chinese).id)
    return [Recipient(chinese.id, Language.ZH, phones), Recipient(english.id, Language.EN, ())]


def fanout(recipients, kind=NoticeKind.EXPORT_DIVERTED, declaration_id=None):
    return Fanout(
        recipients,
        kind=kind,
        title=Message("Parcel %(waybill_no)s diverted for recheck", waybill_no="WB1"),
        body=Message("Body"),
        source_key=f"test/{uuid.uuid4()}",
        declaration_id=declaration_id,
    )


def written(session, source_key):
    notices = session.scalars(select(Notice).where(Notice.source_key == source_key).order_by(Notice.id)).all()
    rows = [tuple(getattr(notice, column) for column in COLUMNS) for notice in notices]
    pushes = [
        sorted(d.device_id for d in session.scalars(select(Delivery).where(Delivery.notice_pk == notice.id)))
        for notice in notices
    ]
    return rows, pushes, notices


def test_a_batch_writes_the_rows_and_pushes_notify_recipients_writes(session, recipients):
    declaration = make_declaration(session)
    by_rows, by_entities = (
        fanout(recipients, declaration_id=declaration.id),
        fanout(recipients, declaration_id=declaration.id),
    )

    assert notify_all(session, [by_rows]) == 2
    notify_recipients(
        session,
        recipients,
        kind=by_entities.kind,
        title=by_entities.title,
        body=by_entities.body,
        source_key=by_entities.source_key,
        declaration_id=declaration.id,
    )
    session.flush()

    rows, pushes, notices = written(session, by_rows.source_key)
    assert (rows, pushes) == written(session, by_entities.source_key)[:2]
    assert "包裹" in rows[0][3] and rows[1][3] == "Parcel WB1 diverted for recheck"
    assert rows[0][5] == f"/api/v1/declarations/{declaration.id}"
    assert pushes == [sorted(recipients[0].device_ids), []]
    assert all(notice.notice_id is not None and notice.created_at is not None for notice in notices)


def test_a_batch_keeps_the_recipients_quiet_hours_and_muted_kinds(session, client, auth_headers):
    quiet, muted = (make_user(session, role=Role.DECLARANT) for _ in range(2))
    quiet_phone, muted_phone = make_device(session, user=quiet), make_device(session, user=muted)
    client.put(SETTINGS, json={"quiet_hours": quiet_around_now(2)}, headers=auth_headers(quiet))
    client.put(SETTINGS, json={"muted_kinds": [NoticeKind.EXPORT_DIVERTED.value]}, headers=auth_headers(muted))
    sent = fanout(
        [Recipient(quiet.id, Language.ZH, (quiet_phone.id,)), Recipient(muted.id, Language.ZH, (muted_phone.id,))]
    )

    notify_all(session, [sent])

    _rows, pushes, notices = written(session, sent.source_key)
    assert pushes == [[quiet_phone.id], []]
    [held] = session.scalars(select(Delivery).where(Delivery.notice_pk == notices[0].id)).all()
    assert held.next_attempt_at > clock.utcnow()


def test_the_streams_of_a_batchs_recipients_are_rung_once_it_commits(app, session, recipients, monkeypatch):
    rung = []
    monkeypatch.setattr(app.extensions["notice_hub"], "_wake", lambda recipients: rung.append(set(recipients)))

    notify_all(session, [fanout(recipients[:1]), fanout(recipients[1:])])
    assert rung == []
    session.commit()

    assert rung == [{recipient.user_id for recipient in recipients}]


def test_nobody_to_tell_writes_nothing(session):
    assert notify_all(session, [fanout([])]) == 0
