from datetime import timedelta

import pytest

from app.common import clock
from app.declarations import status
from app.declarations.models import DeclarationStatus
from app.users.models import Role
from tests.factories import make_declaration, make_user

FIGURES = "/api/v1/admin/figures/clearance"


@pytest.fixture
def admin(session, auth_headers):
    return auth_headers(make_user(session, role=Role.ADMIN))


def released_after(session, start, minutes, *, inspected_after=None):
    declaration = make_declaration(
        session,
        submitted_at=start,
        released_at=start + timedelta(minutes=minutes),
        status=DeclarationStatus.RELEASED,
    )
    if inspected_after is not None:
        status.record_event(
            session,
            declaration,
            step="inspection_issued",
            title="查验",
            occurred_at=start + timedelta(minutes=inspected_after),
            status_changed=False,
        )
    return declaration


def test_figures_give_median_p90_rate_and_counts(client, session, admin):
    start = clock.utcnow() - timedelta(days=1)
    for minutes in (2, 4, 6, 8, 10):
        released_after(session, start, minutes)
    released_after(session, start, 40, inspected_after=10)
    released_after(session, start, 70, inspected_after=20)
    make_declaration(session, submitted_at=start, status=DeclarationStatus.INSPECTION)
    status.record_event(
        session, make_declaration(session, submitted_at=start, status=DeclarationStatus.REJECTED), step="x", title="x"
    )

    body = client.get(
        FIGURES,
        query_string={"since": (start - timedelta(hours=1)).isoformat(), "until": clock.utcnow().isoformat()},
        headers=admin,
    ).json

    assert body["submitted"] == 9
    assert body["submission_to_release"]["count"] == 7
    assert body["submission_to_release"]["median_seconds"] == 8 * 60
    # percentile_cont over 2,4,6,8,10,40,70 minutes: position 5.4 → 40 + 0.4 × 30 = 52 minutes.
    assert body["submission_to_release"]["p90_seconds"] == pytest.approx(52 * 60)
    assert body["inspection_to_release"] == {
        "count": 2,
        "median_seconds": 40 * 60,
        "p90_seconds": pytest.approx(48 * 60),
    }
    assert body["inspection_rate"] == pytest.approx(2 / 9)
    assert body["by_status"]["released"] == 7
    assert body["by_status"]["inspection"] == 1
    assert body["by_status"]["rejected"] == 1
    assert body["by_status"]["submitted"] == 0


def test_figures_of_an_empty_range_are_empty_not_errors(client, admin):
    body = client.get(
        FIGURES,
        query_string={"since": "2020-01-01T00:00:00+08:00", "until": "2020-01-02T00:00:00+08:00"},
        headers=admin,
    ).json

    assert body["submitted"] == 0
    assert body["submission_to_release"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert body["inspection_rate"] is None


def test_figures_need_an_ordered_range(client, admin):
    response = client.get(
        FIGURES,
        query_string={"since": "2026-01-02T00:00:00+08:00", "until": "2026-01-01T00:00:00+08:00"},
        headers=admin,
    )

    assert response.status_code == 422
    assert "until" in response.json["errors"]["query"]


def test_only_admins_see_figures(client, session, auth_headers):
    response = client.get(
        FIGURES,
        query_string={"since": "2026-01-01T00:00:00+08:00", "until": "2026-01-02T00:00:00+08:00"},
        headers=auth_headers(make_user(session, role=Role.DECLARANT)),
    )

    assert response.status_code == 403


def test_a_moment_utc_cannot_hold_is_refused_naming_it(client, admin):
    response = client.get(
        FIGURES,
        query_string={"since": "0001-01-01T00:00:00+14:00", "until": "2026-01-01T00:00:00+00:00"},
        headers=admin,
    )

    assert response.status_code == 422
    assert "since" in response.json["errors"]["query"]
