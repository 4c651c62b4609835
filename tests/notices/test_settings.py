"""Notification settings: quiet hours hold back a non-urgent push (not an inspection notice), muted kinds are never
pushed, and the notice itself is kept either way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.common import clock
from app.notices import outbox
from app.notices.models import Delivery, DeliveryState, NoticeKind, NotificationSettings
from app.notices.service import Message, notify_enterprise
from app.notices.settings import quiet_until
from app.users.models import Role
from tests.factories import make_device, make_user

SETTINGS = "/api/v1/me/notification-settings"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def declarant(session):
    return make_user(session, role=Role.DECLARANT)


def quiet_around_now(hours_after: int = 1) -> dict[str, str]:
    """Quiet hours in Shanghai that began an hour ago and end `hours_after` hours from now."""
    local = clock.utcnow().astimezone(SHANGHAI)
    start, end = local - timedelta(hours=1), local + timedelta(hours=hours_after)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


def notify(session, user, kind):
    [notice] = notify_enterprise(
        session,
        enterprise_id=user.enterprise_id,
        roles=[user.role],
        kind=kind,
        title=Message("Title"),
        body=Message("Body"),
        source_key=f"test/{uuid.uuid4()}",
    )
    session.flush()
    return notice


def deliveries_of(session, notice):
    return list(session.scalars(select(Delivery).where(Delivery.notice_pk == notice.id)))


def test_a_user_who_saved_nothing_gets_every_kind_at_any_hour(client, session, auth_headers, declarant):
    response = client.get(SETTINGS, headers=auth_headers(declarant))

    assert response.status_code == 200
    assert response.json["time_zone"] == "Asia/Shanghai"
    assert response.json["quiet_hours"] is None and response.json["muted_kinds"] == []
    assert {"inspection.issued", "declaration.released", "gate.referred"} <= set(response.json["always_pushed"])


def test_settings_are_saved_and_read_back(client, session, auth_headers, declarant):
    body = {
        "time_zone": "Asia/Shanghai",
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "muted_kinds": ["gate.passed", "declaration.accepted"],
    }

    saved = client.put(SETTINGS, json=body, headers=auth_headers(declarant))

    assert saved.status_code == 200
    read = client.get(SETTINGS, headers=auth_headers(declarant)).json
    assert read["quiet_hours"] == {"start": "22:00:00", "end": "07:00:00"}
    assert read["muted_kinds"] == ["declaration.accepted", "gate.passed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"muted_kinds": ["inspection.issued"]}, "muted_kinds"),
        ({"muted_kinds": ["declaration.released"]}, "muted_kinds"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours"),
        ({"muted_kinds": ["no.such_kind"]}, "muted_kinds"),
        ({"customs_code": "5301"}, "customs_code"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(client, session, auth_headers, declarant, body, field):
    response = client.put(SETTINGS, json=body, headers=auth_headers(declarant))

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_quiet_hours_hold_back_a_routine_push_but_not_an_inspection_notice(client, session, auth_headers, declarant):
    make_device(session, user=declarant)
    body = {"quiet_hours": quiet_around_now(hours_after=2)}
    assert client.put(SETTINGS, json=body, headers=auth_headers(declarant)).status_code == 200
    before = clock.utcnow()

    routine = notify(session, declarant, NoticeKind.DECLARATION_ACCEPTED)
    inspection = notify(session, declarant, NoticeKind.INSPECTION_ISSUED)

    [held] = deliveries_of(session, routine)
    [urgent] = deliveries_of(session, inspection)
    assert held.next_attempt_at > before + timedelta(minutes=100)
    assert urgent.next_attempt_at <= clock.utcnow()
    claimed = outbox.claim_due(session, now=clock.utcnow(), limit=10, lease=timedelta(seconds=60))
    assert [job.notice_pk for job in claimed] == [inspection.id]
    assert held.state is DeliveryState.PENDING


def test_a_muted_kind_is_stored_and_caught_up_but_never_pushed(client, session, auth_headers, declarant):
    make_device(session, user=declarant)
    headers = auth_headers(declarant)
    client.put(SETTINGS, json={"muted_kinds": ["gate.passed"]}, headers=headers)

    notice = notify(session, declarant, NoticeKind.GATE_PASSED)

    assert deliveries_of(session, notice) == []
    session.commit()
    feed = client.get("/api/v1/notices", query_string={"after_seq": 0}, headers=headers).json
    assert [item["kind"] for item in feed["items"]] == ["gate.passed"]


@pytest.mark.parametrize(
    ("local", "start", "end", "expected"),
    [
        (datetime(2026, 3, 1, 23, 30), time(22), time(7), datetime(2026, 3, 2, 7)),
        (datetime(2026, 3, 2, 6, 59), time(22), time(7), datetime(2026, 3, 2, 7)),
        (datetime(2026, 3, 2, 7, 0), time(22), time(7), None),
        (datetime(2026, 3, 2, 13, 0), time(12), time(14), datetime(2026, 3, 2, 14)),
        (datetime(2026, 3, 2, 11, 59), time(12), time(14), None),
    ],
)
def test_quiet_hours_end_at_the_next_local_end_time(local, start, end, expected):
    settings = NotificationSettings(time_zone="Asia/Shanghai", quiet_start=start, quiet_end=end, muted_kinds=[])
    now = local.replace(tzinfo=SHANGHAI).astimezone(UTC)

    ends = quiet_until(settings, now)

    assert ends == (expected.replace(tzinfo=SHANGHAI).astimezone(UTC) if expected else None)
