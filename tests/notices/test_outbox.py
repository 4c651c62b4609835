"""The push outbox and its dispatcher, with a scripted provider: which pushes go out, when, and what is settled."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.common import clock
from app.devices.models import Platform, PushProvider
from app.i18n import N_
from app.notices import outbox
from app.notices.dispatcher import Dispatcher
from app.notices.models import Delivery, DeliveryChannel, DeliveryPurpose, DeliveryState, Notice, NoticeKind
from app.notices.service import Message, mark_read, notify_enterprise
from app.push.base import Failed, InvalidToken, PushMessage, PushTarget, Retry, Sent
from app.users.models import Language, Role
from tests.factories import make_declaration, make_device, make_user


class ScriptedProvider:
    """Answers each send with the next scripted outcome (Sent by default) and remembers what it was asked."""

    provider = PushProvider.APNS

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[tuple[PushTarget, PushMessage]] = []
        self._lock = threading.Lock()

    def send(self, target: PushTarget, message: PushMessage):
        with self._lock:
            self.sent.append((target, message))
            return self.outcomes.pop(0) if self.outcomes else Sent(provider_message_id=f"msg-{len(self.sent)}")

    def close(self) -> None:
        pass


class ScriptedSms:
    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def send(self, phone: str, text: str):
        self.texts.append((phone, text))
        return Sent(provider_message_id=None)


@pytest.fixture
def declarant(session):
    return make_user(session, role=Role.DECLARANT, phone="13800138000")


@pytest.fixture
def provider():
    return ScriptedProvider()


@pytest.fixture
def sms():
    return ScriptedSms()


@pytest.fixture
def dispatcher(app, provider, sms):
    # In the app's context, as `flask notices dispatch` runs: the push texts come from its catalogues.
    with app.app_context():
        yield Dispatcher(app.extensions["sessionmaker"], adapters={PushProvider.APNS: provider}, sms=sms, concurrency=4)


def device_on(session, user, provider, token, platform=Platform.ANDROID):
    """A device on a provider other than APNs (no APNs environment or bundle id)."""
    return make_device(
        session,
        user=user,
        platform=platform,
        provider=provider,
        token=token,
        apns_environment=None,
        bundle_id=None,
    )


def notify(session, user, kind=NoticeKind.DECLARATION_RELEASED, declaration=None):
    declaration = declaration or make_declaration(session, declarant=user)
    (notice,) = [
        notice
        for notice in notify_enterprise(
            session,
            enterprise_id=user.enterprise_id,
            roles=[user.role],
            kind=kind,
            title=Message(N_("Released")),
            body=Message("body"),
            source_key=f"test/{uuid.uuid4()}",
            declaration_id=declaration.id,
        )
        if notice.recipient_id == user.id
    ]
    session.commit()
    return notice


def deliveries(session, notice=None):
    statement = select(Delivery).order_by(Delivery.id).execution_options(populate_existing=True)
    if notice is not None:
        statement = statement.where(Delivery.notice_pk == notice.id)
    return list(session.scalars(statement))


def test_a_notice_queues_one_push_per_active_device_in_its_transaction(session, declarant):
    phone = make_device(session, user=declarant)
    tablet = device_on(session, declarant, PushProvider.JPUSH, "jpush-0001")
    make_device(session, user=declarant, removed_at=clock.utcnow())
    make_device(session, user=declarant, invalidated_at=clock.utcnow())
    make_device(session, user=declarant, push_permission=False)
    make_device(session, user=declarant, last_seen_at=clock.utcnow() - timedelta(days=31))

    notice = notify(session, declarant)

    queued = deliveries(session, notice)
    assert sorted(d.device_id for d in queued) == sorted([phone.id, tablet.id])
    assert {(d.channel, d.purpose, d.state) for d in queued} == {
        (DeliveryChannel.PUSH, DeliveryPurpose.NOTICE, DeliveryState.PENDING)
    }


def test_a_rolled_back_notice_leaves_no_push_behind(session, declarant):
    make_device(session, user=declarant)
    session.commit()
    declaration = make_declaration(session, declarant=declarant)
    notify_enterprise(
        session,
        enterprise_id=declarant.enterprise_id,
        roles=[Role.DECLARANT],
        kind=NoticeKind.DECLARATION_RELEASED,
        title=Message("t"),
        body=Message("b"),
        source_key="test/rolled-back",
        declaration_id=declaration.id,
    )
    session.flush()
    session.rollback()

    assert deliveries(session) == []


def test_the_dispatcher_sends_a_minimal_push_and_records_it(
    client, session, declarant, dispatcher, provider, auth_headers
):
    device = make_device(session, user=declarant)
    declaration = make_declaration(session, declarant=declarant)
    notice = notify(session, declarant, declaration=declaration)

    turn = dispatcher.turn()

    assert (turn.claimed, turn.sent) == (1, 1)
    ((target, message),) = provider.sent
    assert target.token == device.token
    assert message.notice_id == str(notice.notice_id)
    # Nothing from the declaration but the last four digits of its number reaches the provider.
    assert message.title == f"放行通知 …{declaration.cop_no[-4:]}"
    assert message.collapse_key == f"{declaration.id}:declaration"
    (delivery,) = deliveries(session, notice)
    assert delivery.state is DeliveryState.SENT
    assert delivery.provider_message_id == "msg-1"
    (listed,) = client.get("/api/v1/notices", headers=auth_headers(declarant)).json["items"]
    assert listed["sent_at"] is not None
    assert dispatcher.turn().claimed == 0


def test_push_titles_follow_the_users_language(session, dispatcher, provider):
    english = make_user(session, role=Role.DECLARANT, language=Language.EN)
    make_device(session, user=english)
    notify(session, english, kind=NoticeKind.INSPECTION_ISSUED)

    dispatcher.turn()

    ((_, message),) = provider.sent
    assert message.title.startswith("Inspection notice …")
    assert message.high_priority is True


def test_a_busy_provider_is_retried_later_never_sooner_than_it_asked(session, declarant, app, sms):
    make_device(session, user=declarant)
    notice = notify(session, declarant)
    busy = ScriptedProvider(Retry(after_seconds=120, reason="429 TooManyRequests"))
    dispatcher = Dispatcher(app.extensions["sessionmaker"], adapters={PushProvider.APNS: busy}, sms=sms)
    before = clock.utcnow()

    dispatcher.turn()

    (delivery,) = deliveries(session, notice)
    assert delivery.state is DeliveryState.PENDING
    assert delivery.attempts == 1
    assert delivery.last_error == "429 TooManyRequests"
    assert delivery.next_attempt_at >= before + timedelta(seconds=120)
    assert dispatcher.turn().claimed == 0


def test_backoff_grows_with_jitter_and_is_capped():
    delays = [outbox.retry_delay(attempt, None) for attempt in range(1, 12)]

    assert timedelta(seconds=2.5) <= delays[0] <= timedelta(seconds=5)
    assert timedelta(seconds=20) <= delays[3] <= timedelta(seconds=40)
    assert all(delay <= outbox.LONGEST_RETRY for delay in delays)
    assert outbox.retry_delay(1, 90) >= timedelta(seconds=90)


def test_a_delivery_gives_up_after_the_last_attempt(session, declarant, app, sms):
    make_device(session, user=declarant)
    notice = notify(session, declarant)
    (delivery,) = deliveries(session, notice)
    delivery.attempts = outbox.MAX_ATTEMPTS - 1
    session.commit()
    down = ScriptedProvider(Retry(after_seconds=None, reason="503 Service Unavailable"))

    Dispatcher(app.extensions["sessionmaker"], adapters={PushProvider.APNS: down}, sms=sms).turn()

    (delivery,) = deliveries(session, notice)
    assert delivery.state is DeliveryState.FAILED
    assert delivery.last_error.startswith(f"gave up after {outbox.MAX_ATTEMPTS} tries")


def test_a_dead_token_invalidates_the_device_and_later_notices_skip_it(session, declarant, app, sms):
    device = make_device(session, user=declarant)
    notice = notify(session, declarant)
    dead = ScriptedProvider(InvalidToken(reason="410 Unregistered"))

    Dispatcher(app.extensions["sessionmaker"], adapters={PushProvider.APNS: dead}, sms=sms).turn()

    (delivery,) = deliveries(session, notice)
    assert delivery.state is DeliveryState.INVALID_TOKEN
    session.refresh(device)
    assert device.invalidated_at is not None
    assert device.invalid_reason == "410 Unregistered"
    assert deliveries(session, notify(session, declarant)) == []


def test_a_notice_the_app_already_has_is_not_pushed(session, declarant, dispatcher, provider):
    make_device(session, user=declarant)
    notice = notify(session, declarant)
    notice.acknowledged_at = clock.utcnow()
    session.commit()

    dispatcher.turn()

    assert provider.sent == []
    assert [d.state for d in deliveries(session, notice)] == [DeliveryState.SKIPPED]


def test_a_provider_without_credentials_fails_the_delivery_with_a_reason(session, declarant, app, sms):
    device_on(session, declarant, PushProvider.FCM, "fcm-token-0001")
    notice = notify(session, declarant)

    Dispatcher(app.extensions["sessionmaker"], adapters={}, sms=sms).turn()

    (delivery,) = deliveries(session, notice)
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, "no fcm credentials are configured")


def test_a_dispatcher_that_dies_mid_send_leaves_the_push_due_after_its_lease(session, declarant, app, provider, sms):
    make_device(session, user=declarant)
    notice = notify(session, declarant)
    sessions = app.extensions["sessionmaker"]
    with sessions.begin() as claiming:
        (claimed,) = outbox.claim_due(claiming, now=clock.utcnow(), limit=10, lease=timedelta(seconds=30))
    # ...and the process dies here, before record_results.

    with sessions.begin() as other:
        assert outbox.claim_due(other, now=clock.utcnow(), limit=10, lease=timedelta(seconds=30)) == []
        (again,) = outbox.claim_due(
            other, now=clock.utcnow() + timedelta(seconds=31), limit=10, lease=timedelta(seconds=30)
        )

    assert again.message.notice_id == claimed.message.notice_id == str(notice.notice_id)
    assert again.attempts == 2


def test_reading_a_notice_clears_it_from_the_users_other_phones(session, declarant, dispatcher, provider):
    reading_phone = make_device(session, user=declarant)
    other_phone = make_device(session, user=declarant)
    notice = notify(session, declarant)
    dispatcher.turn()
    provider.sent.clear()

    mark_read(session, recipient=declarant, notice_ids=[notice.notice_id], device_id=reading_phone.device_id)
    session.commit()
    dispatcher.turn()

    ((target, message),) = provider.sent
    assert target.token == other_phone.token
    assert message.clear is True
    assert message.notice_id == str(notice.notice_id)


def test_reading_twice_clears_once(session, declarant):
    make_device(session, user=declarant)
    notice = notify(session, declarant)

    for _ in range(2):
        mark_read(session, recipient=declarant, notice_ids=[notice.notice_id])

    clears = [d for d in deliveries(session, notice) if d.purpose is DeliveryPurpose.CLEAR]
    assert len(clears) == 1


def _age(session, notice: Notice, minutes: float) -> None:
    notice.created_at = clock.utcnow() - timedelta(minutes=minutes)
    session.commit()


def test_an_unacknowledged_inspection_notice_is_pushed_again_at_2_and_5_minutes_then_texted(
    session, declarant, dispatcher, provider, sms
):
    make_device(session, user=declarant)
    notice = notify(session, declarant, kind=NoticeKind.INSPECTION_ISSUED)
    dispatcher.turn()
    provider.sent.clear()

    _age(session, notice, 1.9)
    assert dispatcher.turn().reminders == 0
    _age(session, notice, 2.1)
    assert dispatcher.turn().reminders == 1
    assert dispatcher.turn().reminders == 0
    _age(session, notice, 5.1)
    dispatcher.turn()
    _age(session, notice, 10.1)
    dispatcher.turn()
    _age(session, notice, 60)
    assert dispatcher.turn().reminders == 0

    assert [message.title[:4] for _, message in provider.sent] == ["【提醒】", "【提醒】"]
    ((phone, text),) = sms.texts
    assert phone == "13800138000"
    assert "查验通知" in text
    purposes = [(d.channel, d.purpose, d.state) for d in deliveries(session, notice)]
    assert purposes.count((DeliveryChannel.SMS, DeliveryPurpose.REMINDER, DeliveryState.SENT)) == 1


def test_an_acknowledged_or_routine_notice_gets_no_reminder(session, declarant, dispatcher):
    make_device(session, user=declarant)
    acknowledged = notify(session, declarant, kind=NoticeKind.INSPECTION_ISSUED)
    acknowledged.acknowledged_at = clock.utcnow()
    routine = notify(session, declarant, kind=NoticeKind.DECLARATION_RELEASED)
    for notice in (acknowledged, routine):
        _age(session, notice, 3)

    assert dispatcher.turn().reminders == 0


def test_an_sms_reminder_without_a_phone_number_fails_with_a_reason(session, dispatcher):
    declarant = make_user(session, role=Role.DECLARANT)
    notice = notify(session, declarant, kind=NoticeKind.INSPECTION_ISSUED)
    notice.reminders_sent = 2
    _age(session, notice, 11)

    dispatcher.turn()

    (delivery,) = deliveries(session, notice)
    assert (delivery.channel, delivery.state) == (DeliveryChannel.SMS, DeliveryState.FAILED)
    assert delivery.last_error == "the recipient has no phone number"


def test_an_adapter_crash_costs_one_retry_not_the_batch(session, declarant, app, sms):
    make_device(session, user=declarant)
    make_device(session, user=declarant)
    notice = notify(session, declarant)

    class CrashesOnce(ScriptedProvider):
        def send(self, target, message):
            if not self.sent:
                self.sent.append((target, message))
                raise RuntimeError("adapter bug")
            return super().send(target, message)

    Dispatcher(
        app.extensions["sessionmaker"], adapters={PushProvider.APNS: CrashesOnce()}, sms=sms, concurrency=1
    ).turn()

    crashed, sent = deliveries(session, notice)
    assert (crashed.state, sent.state) == (DeliveryState.PENDING, DeliveryState.SENT)
    assert crashed.last_error == "unexpected error: RuntimeError('adapter bug')"


def test_failed_outcomes_are_not_retried(session, declarant, app, sms):
    make_device(session, user=declarant)
    notice = notify(session, declarant)

    Dispatcher(
        app.extensions["sessionmaker"], adapters={PushProvider.APNS: ScriptedProvider(Failed("400 BadTopic"))}, sms=sms
    ).turn()

    (delivery,) = deliveries(session, notice)
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, "400 BadTopic")


@pytest.mark.postgres_only
def test_dispatchers_running_at_once_never_claim_the_same_push(racing_app):
    sessions = racing_app.extensions["sessionmaker"]
    with sessions.begin() as session:
        declarant = make_user(session, role=Role.DECLARANT)
        for _ in range(4):
            make_device(session, user=declarant)
        declaration = make_declaration(session, declarant=declarant)
        for index in range(15):
            notify_enterprise(
                session,
                enterprise_id=declarant.enterprise_id,
                roles=[Role.DECLARANT],
                kind=NoticeKind.DECLARATION_RELEASED,
                title=Message("t"),
                body=Message("b"),
                source_key=f"race/{index}",
                declaration_id=declaration.id,
            )
    start_together = threading.Barrier(3)

    def claim(_):
        with sessions.begin() as session:
            start_together.wait()
            jobs = outbox.claim_due(session, now=clock.utcnow(), limit=25, lease=timedelta(seconds=60))
            return [job.delivery_id for job in jobs]

    with ThreadPoolExecutor(max_workers=3) as pool:
        claims = list(pool.map(claim, range(3)))

    claimed = [delivery_id for batch in claims for delivery_id in batch]
    assert len(claimed) == len(set(claimed)) == 60


def test_every_notice_kind_has_a_push_label():
    assert set(outbox.PUSH_LABELS) == set(NoticeKind)


def test_flask_notices_dispatch_sends_through_every_configured_provider(
    app, session, declarant, push_env, push_standins, monkeypatch
):
    iphone = make_device(session, user=declarant)
    android = device_on(session, declarant, PushProvider.FCM, "fcm-registration-token-0001")
    huawei = device_on(session, declarant, PushProvider.HUAWEI, "huawei-push-token-0001", platform=Platform.HARMONY)
    notice = notify(session, declarant)
    for name, value in push_env.items():
        monkeypatch.setenv(name, value)

    result = app.test_cli_runner().invoke(args=["notices", "dispatch", "--once"])

    assert result.exit_code == 0, result.output
    assert "claimed 3, sent 3" in result.output
    assert [d.state for d in deliveries(session, notice)] == [DeliveryState.SENT] * 3
    for standin, device in ((push_standins.apns, iphone), (push_standins.fcm, android), (push_standins.huawei, huawei)):
        (push,) = standin.received_for(device.token)
        assert push.status == 200
        assert str(notice.notice_id) in push.request.raw.decode()
