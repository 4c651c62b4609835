"""The officers on duty as a process keeps them for a few seconds (app/notices/officers.py): who is told within
those seconds, what forgets them at once, and that their push rules come with them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.common import clock
from app.notices import on_duty_cache
from app.notices.models import Delivery, Notice, NoticeKind
from app.notices.officers import notify_officers
from app.notices.service import Message
from app.users.models import Role
from tests.factories import make_device, make_user
from tests.notices.test_settings import SETTINGS, quiet_around_now


@pytest.fixture
def cache_clock(app, monkeypatch):
    """The process's cache of officers on duty with a clock moved by hand, inside the app's context."""
    now = [1_000_000.0]
    with app.app_context():
        cache = on_duty_cache.cache()
        assert cache is not None
        cache.clear()
        monkeypatch.setattr(cache, "clock", lambda: now[0])
        yield now


@pytest.fixture
def officer(session):
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)
    make_device(session, user=officer)
    return officer


def alert(session, customs_code="8012"):
    """One alert to the officers on duty for the office, in a transaction of its own."""
    notify_officers(
        session,
        customs_code=customs_code,
        kind=NoticeKind.OFFICER_PARCEL_DIVERTED,
        title=Message("Title"),
        body=Message("Body"),
        source_key=f"test/{uuid.uuid4()}",
    )
    session.commit()


def alerts_of(session, user):
    return session.scalars(select(Notice).where(Notice.recipient_id == user.id)).all()


def test_an_officer_added_within_the_cache_seconds_hears_the_alerts_after_them(session, cache_clock, officer):
    alert(session)
    newcomer = make_user(session, role=Role.CUSTOMS_OFFICER)
    session.commit()

    alert(session)
    assert (len(alerts_of(session, officer)), len(alerts_of(session, newcomer))) == (2, 0)

    cache_clock[0] += on_duty_cache.CACHE_SECONDS
    alert(session)
    assert (len(alerts_of(session, officer)), len(alerts_of(session, newcomer))) == (3, 1)


def test_settings_saved_in_this_process_count_at_once(session, client, auth_headers, cache_clock, officer):
    elsewhere = make_user(session, role=Role.CUSTOMS_OFFICER)
    client.put(SETTINGS, json={"customs_code": "5301"}, headers=auth_headers(elsewhere))
    alert(session)
    assert alerts_of(session, elsewhere) == []

    client.put(SETTINGS, json={"customs_code": "8012"}, headers=auth_headers(elsewhere))
    alert(session)

    assert len(alerts_of(session, elsewhere)) == 1


def test_the_kept_officers_keep_their_quiet_hours(session, client, auth_headers, cache_clock, officer):
    client.put(SETTINGS, json={"quiet_hours": quiet_around_now(2)}, headers=auth_headers(officer))
    alert(session)

    alert(session)  # from the cache, in another transaction

    pushes = session.scalars(select(Delivery).join(Notice).where(Notice.recipient_id == officer.id)).all()
    assert len(pushes) == 2
    assert all(push.next_attempt_at > clock.utcnow() for push in pushes)


def test_the_cache_is_only_used_inside_the_app(session, officer):
    alert(session)
    newcomer = make_user(session, role=Role.CUSTOMS_OFFICER)
    session.commit()

    alert(session)

    assert len(alerts_of(session, newcomer)) == 1
