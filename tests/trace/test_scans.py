import time
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import create_app, db
from app.auth import service as auth
from app.cli import alembic_config
from app.common import clock
from app.risk.models import RiskWarning
from app.trace import alarms
from app.trace.lookup import CloneRules
from app.trace.models import TraceScan
from tests.conftest import make_settings
from tests.databases import configured_url, scratch_database
from tests.trace.helpers import GTIN, issue, make_setup, release, set_status


@pytest.fixture
def background_app(tmp_path):
    """An app that records scans in the background, on a database of its own (the thread commits)."""
    with scratch_database(configured_url(), tmp_path) as url:
        command.upgrade(alembic_config(url), "head")
        app = create_app(
            make_settings(url, upload_dir=tmp_path / "uploads", trace_scans_in_background=True, trace_scan_limit=1)
        )
        try:
            yield app
        finally:
            app.extensions["engine"].dispose()


def headers_for(app, session, user):
    pair = auth.open_session(
        session, user, client_addr="127.0.0.1", user_agent="pytest", settings=app.extensions["settings"]
    )
    return {"Authorization": f"Bearer {pair.access_token}"}


def test_scans_are_written_by_the_background_recorder(background_app):
    client = background_app.test_client()
    with background_app.app_context(), db.transaction() as session:
        setup = make_setup(session)
        operator, officer = (
            headers_for(background_app, session, setup.operator),
            headers_for(background_app, session, setup.officer),
        )
        declaration_id = setup.declaration.id
    serial = issue(client, operator, declaration_id, 1).json["codes"][0]["serial"]
    set_status(client, operator, "affixed", serials=[serial])
    release(client, officer, declaration_id)

    def written(scans: int, occurrences: int) -> bool:
        """Wait for the writer to store `scans` scans and count `occurrences` on the code's warning."""
        deadline = time.monotonic() + 10
        with background_app.app_context():
            while time.monotonic() < deadline:
                with db.transaction() as session:
                    stored = session.scalar(select(func.count()).select_from(TraceScan))
                    counted = session.scalar(
                        select(RiskWarning.occurrences).where(RiskWarning.subject_key == f"trace:{serial}")
                    )
                if (stored, counted or 0) == (scans, occurrences):
                    return True
                time.sleep(0.05)
        return False

    verdicts = []
    for scans, occurrences in ((1, 0), (2, 1), (3, 2)):
        verdicts.append(client.get(f"/01/{GTIN}/21/{serial}", headers={"Accept": "application/json"}).json["verdict"])
        assert written(scans, occurrences)

    # The limit is one lookup: the writer's totals make the next ones suspicious, and it raises the alarm.
    assert verdicts == ["genuine", "suspicious", "suspicious"]


def test_a_batch_the_database_refuses_fails_as_sqlalchemy_statements_do(session):
    """The writer's rows go to the driver directly; its errors still arrive as SQLAlchemy's, for the writer's log."""
    scan = {
        "trace_code_id": 2**31 - 1,  # no such code
        "scanned_at": clock.utcnow(),
        "network": "203.0.113.0/24",
        "client_class": "browser",
        "region": None,
        "verdict": "genuine",
        "before_release": False,
    }
    rules = CloneRules(lookups=50, networks=5, regions=3, window=timedelta(hours=24))
    with pytest.raises(IntegrityError, match="trace_scans"):
        alarms.record_scans(session, [scan], rules=rules)
