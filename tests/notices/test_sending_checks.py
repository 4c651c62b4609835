"""What the dispatcher checks when it sends a push: the device chosen when the notice was queued (minutes earlier
after quiet hours, or from the officers a process keeps for seconds) must still be its user's, and worth a push."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.common import clock
from app.devices.models import PushProvider
from app.notices.dispatcher import Dispatcher
from app.notices.models import Delivery, DeliveryState
from app.users.models import Role
from tests.factories import make_device, make_user
from tests.notices.test_outbox import ScriptedProvider, ScriptedSms, notify


@pytest.fixture
def dispatcher(app):
    provider = ScriptedProvider()
    with app.app_context():
        yield (
            Dispatcher(
                app.extensions["sessionmaker"], adapters={PushProvider.APNS: provider}, sms=ScriptedSms(), concurrency=2
            ),
            provider,
        )


@pytest.mark.parametrize("change", ["device removed", "permission off", "device moved", "user disabled"])
def test_a_push_queued_before_its_device_or_user_changed_is_skipped_at_sending(session, dispatcher, change):
    send, provider = dispatcher
    declarant = make_user(session, role=Role.DECLARANT)
    device = make_device(session, user=declarant)
    notice = notify(session, declarant)
    if change == "device removed":
        device.removed_at = clock.utcnow()
    elif change == "permission off":
        device.push_permission = False
    elif change == "device moved":
        device.user_id = make_user(session, role=Role.DECLARANT).id
    else:
        declarant.is_active = False
    session.commit()

    send.turn()

    assert provider.sent == []
    [push] = session.scalars(
        select(Delivery).where(Delivery.notice_pk == notice.id).execution_options(populate_existing=True)
    ).all()
    assert push.state is DeliveryState.SKIPPED


def test_a_push_to_a_device_still_theirs_goes_out(session, dispatcher):
    send, provider = dispatcher
    declarant = make_user(session, role=Role.DECLARANT)
    make_device(session, user=declarant)
    notify(session, declarant)

    send.turn()

    assert len(provider.sent) == 1
