"""A new install registering several times at once, each request on its own connection.

The app registers on launch and again from its token callback, which can fire together. The
per-test rollback puts every request on one connection, where nothing can race; this test uses
a scratch database with committed rows and an app of its own instead.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.auth import service as auth
from app.devices.models import Device
from tests.devices.helpers import iphone
from tests.factories import make_user

CONTENDERS = 8


@pytest.mark.postgres_only
def test_simultaneous_first_registrations_make_one_device(racing_app):
    settings = racing_app.extensions["settings"]
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        user = make_user(session)
        token = auth.open_session(
            session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings
        ).access_token
    start_together = threading.Barrier(CONTENDERS)

    def register(_):
        client = racing_app.test_client()
        start_together.wait()
        response = client.put(
            "/api/v1/devices/install-race-0001", json=iphone(), headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=CONTENDERS) as pool:
        statuses = sorted(pool.map(register, range(CONTENDERS)))

    assert statuses == [200] * (CONTENDERS - 1) + [201]
    with racing_app.extensions["sessionmaker"]() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 1
