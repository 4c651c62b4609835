"""Several cameras reporting the same vehicle at once, each request on its own connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app.auth import service as auth
from app.risk.models import RiskWarning
from app.users.models import Role
from tests.factories import make_user

CONTENDERS = 8


@pytest.mark.postgres_only
def test_simultaneous_reports_about_one_vehicle_count_on_one_warning(racing_app):
    settings = racing_app.extensions["settings"]
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        camera = make_user(session, role=Role.VIDEO_ANALYTICS)
        token = auth.open_session(
            session, camera, client_addr="127.0.0.1", user_agent="pytest", settings=settings
        ).access_token
    start_together = threading.Barrier(CONTENDERS)

    def report(n):
        client = racing_app.test_client()
        start_together.wait()
        body = {
            "camera_id": f"CAM-{n}",
            "occurred_at": "2026-11-20T09:30:00+08:00",
            "event_type": "tailgating",
            "plate": "渝A12345",
        }
        return client.post("/api/v1/risk/video-events", json=body, headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(max_workers=CONTENDERS) as pool:
        responses = list(pool.map(report, range(CONTENDERS)))

    assert [response.status_code for response in responses] == [201] * CONTENDERS
    with racing_app.extensions["sessionmaker"]() as session:
        warnings = list(session.scalars(select(RiskWarning).where(RiskWarning.plate == "渝A12345")))
        assert [warning.occurrences for warning in warnings] == [CONTENDERS]
