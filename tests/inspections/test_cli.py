"""flask inspections expire-appointments: missed slots go back to be booked again."""

from datetime import timedelta

from sqlalchemy import select

from app.common import clock
from app.notices.models import Notice, NoticeKind
from tests.inspections.helpers import TASKS, act, book, timeline


def expire(app):
    return app.test_cli_runner().invoke(args=["inspections", "expire-appointments"])


def after_the_slot(monkeypatch, slot):
    later = slot.ends_at + timedelta(minutes=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)


def test_a_missed_appointment_returns_to_be_booked_and_frees_its_place(
    app, client, session, auth_headers, task, slot, declarant, monkeypatch
):
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200
    headers = auth_headers(declarant)

    with monkeypatch.context() as patched:
        after_the_slot(patched, slot)
        result = expire(app)

    assert result.exit_code == 0, result.output
    assert "Returned 1 " in result.output
    body = client.get(f"{TASKS}/{task.id}", headers=headers).json
    assert body["status"] == "notified"
    assert body["slot"] is None and body["appointment_at"] is None
    assert body["no_show_count"] == 1
    session.refresh(slot)
    assert slot.booked == 0
    assert timeline(client, headers, task.declaration_id)[-1]["step"] == "appointment_missed"


def test_a_missed_appointment_tells_the_declarant_to_book_again(
    app, client, session, auth_headers, task, slot, declarant, monkeypatch
):
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200

    with monkeypatch.context() as patched:
        after_the_slot(patched, slot)
        expire(app)

    latest = session.scalars(
        select(Notice).where(Notice.recipient_id == declarant.id).order_by(Notice.id.desc()).limit(1)
    ).one()
    assert latest.kind is NoticeKind.INSPECTION_SCHEDULED
    assert "重新预约" in latest.body


def test_expiring_twice_changes_nothing_more(app, client, session, auth_headers, task, slot, declarant, monkeypatch):
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200

    with monkeypatch.context() as patched:
        after_the_slot(patched, slot)
        expire(app)
        second = expire(app)

    assert "Returned 0 " in second.output
    assert client.get(f"{TASKS}/{task.id}", headers=auth_headers(declarant)).json["no_show_count"] == 1


def test_slots_not_yet_over_and_staged_goods_are_left_alone(
    app, client, auth_headers, task, slot, declarant, operator, monkeypatch
):
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200
    assert act(client, auth_headers(operator), task.id, "goods-ready").status_code == 200

    before_end = expire(app)
    with monkeypatch.context() as patched:
        after_the_slot(patched, slot)
        after_end = expire(app)

    assert "Returned 0 " in before_end.output and "Returned 0 " in after_end.output
    assert client.get(f"{TASKS}/{task.id}", headers=auth_headers(operator)).json["status"] == "goods_ready"
