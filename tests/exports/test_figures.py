"""Admins' export figures per Shanghai day: the zone flow's tables are filled directly, the figures read by HTTP."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.declarations.models import DeclarationStatus
from app.exports.models import DivertReason, LineDecision, LineScan, LineVerdict, Recheck, RecheckDisposal
from app.users.models import Role
from tests.factories import make_declaration, make_export_list, make_user

FIGURES = "/api/v1/admin/figures/exports"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_ONE = datetime(2026, 11, 2, tzinfo=SHANGHAI)
DAY_TWO = DAY_ONE + timedelta(days=1)
HOUR = 3600


@pytest.fixture
def admin(session, auth_headers):
    return auth_headers(make_user(session, role=Role.ADMIN))


@pytest.fixture
def officer(session):
    return make_user(session, role=Role.CUSTOMS_OFFICER)


def export_list(session, submitted_at, *, parcels, departed_after=None, status=DeclarationStatus.CLOSED):
    declaration = make_export_list(session, submitted_at=submitted_at, status=status, parcels=parcels)
    if departed_after is not None:
        declaration.export.departed_at = submitted_at + departed_after
    return declaration.export.parcels


def line(session, parcel, decision=LineDecision.PASS, reason=None, *, at):
    verdict = LineVerdict.SUSPECT if reason is DivertReason.MACHINE else LineVerdict.CLEAR
    session.add(
        LineScan(
            parcel_id=parcel.id,
            waybill_no=parcel.waybill_no,
            line_id="X1",
            verdict=verdict,
            decision=decision,
            reason=reason,
            scanned_at=at,
        )
    )


def recheck(session, parcel, disposal, *, officer, at):
    session.add(Recheck(parcel_id=parcel.id, officer_id=officer.id, result="normal", disposal=disposal, recorded_at=at))


def figures(client, headers, since=DAY_ONE, until=DAY_TWO + timedelta(days=2)):
    return client.get(FIGURES, query_string={"since": since.isoformat(), "until": until.isoformat()}, headers=headers)


@pytest.fixture
def two_days(session, officer):
    """Day one: a list departed the same day with two line diverts, one departed a day later, one not departed yet.
    Day two: a list submitted at 00:30 Shanghai time (still the previous day in UTC), departed two hours later."""
    morning = DAY_ONE + timedelta(hours=9)
    first = export_list(session, morning, parcels=4, departed_after=timedelta(hours=6))
    line(session, first[0], at=morning + timedelta(hours=1))
    line(session, first[1], LineDecision.DIVERT, DivertReason.MACHINE, at=morning + timedelta(hours=1))
    line(session, first[2], LineDecision.DIVERT, DivertReason.TARGETED, at=morning + timedelta(hours=1))
    line(session, first[3], at=morning + timedelta(hours=1))
    recheck(session, first[1], RecheckDisposal.RELEASE, officer=officer, at=morning + timedelta(hours=2))
    recheck(session, first[2], RecheckDisposal.HOLD, officer=officer, at=morning + timedelta(hours=2))
    # Released by its recheck and back on the line: still one diverted parcel, and one scanned.
    line(session, first[1], at=morning + timedelta(hours=3))

    second = export_list(session, morning + timedelta(hours=1), parcels=2, departed_after=timedelta(hours=24))
    line(session, second[0], LineDecision.DIVERT, DivertReason.LIST_STATUS, at=morning + timedelta(hours=2))
    line(session, second[1], at=morning + timedelta(hours=5))
    recheck(session, second[0], RecheckDisposal.RETURN_TO_SHIPPER, officer=officer, at=morning + timedelta(hours=6))

    export_list(session, DAY_ONE + timedelta(hours=12), parcels=3, status=DeclarationStatus.ACCEPTED)
    export_list(session, DAY_TWO + timedelta(minutes=30), parcels=1, departed_after=timedelta(hours=2))

    # Outside the figures: submitted the evening before, and an import list.
    export_list(session, DAY_ONE - timedelta(hours=1), parcels=5, departed_after=timedelta(hours=2))
    make_declaration(session, submitted_at=morning)
    session.flush()


def test_each_shanghai_day_counts_its_lists_parcels_and_their_statuses(client, admin, two_days):
    body = figures(client, admin).json

    assert body["time_zone"] == "Asia/Shanghai"
    assert [day["date"] for day in body["days"]] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    one, two, three = body["days"]
    assert (one["lists"], one["parcels"], one["lists_by_status"]) == (3, 9, {"accepted": 1, "closed": 2})
    assert (two["lists"], two["parcels"], two["lists_by_status"]) == (1, 1, {"closed": 1})
    assert (three["lists"], three["parcels"], three["lists_by_status"]) == (0, 0, {})
    assert (body["total"]["lists"], body["total"]["parcels"]) == (4, 10)


def test_line_diverts_are_shares_of_the_parcels_the_line_scanned_by_reason(client, admin, two_days):
    one, two, _ = figures(client, admin).json["days"]

    assert one["line"] == {
        "scanned": 6,
        "diverted": 3,
        "machine": 1,
        "targeted": 1,
        "list_status": 1,
        "diverted_share": 0.5,
        "machine_share": pytest.approx(1 / 6),
        "targeted_share": pytest.approx(1 / 6),
        "list_status_share": pytest.approx(1 / 6),
    }
    assert two["line"]["scanned"] == 0
    assert two["line"]["diverted_share"] is None


def test_recheck_outcomes_are_counted_by_disposal(client, admin, two_days):
    body = figures(client, admin).json

    assert body["days"][0]["rechecks"] == {"release": 1, "hold": 1, "return_to_shipper": 1}
    assert body["days"][1]["rechecks"] == {"release": 0, "hold": 0, "return_to_shipper": 0}
    assert body["total"]["rechecks"] == {"release": 1, "hold": 1, "return_to_shipper": 1}


def test_submission_to_departure_gives_median_p90_and_the_same_day_share(client, admin, two_days):
    body = figures(client, admin).json
    one, two, three = body["days"]

    # Day one: 6 h and 24 h; percentile_cont's p90 is 6 + 0.9 × 18 = 22.2 h.
    assert one["departed"] == 2
    assert one["submission_to_departure"]["count"] == 2
    assert one["submission_to_departure"]["median_seconds"] == pytest.approx(15 * HOUR)
    assert one["submission_to_departure"]["p90_seconds"] == pytest.approx(22.2 * HOUR)
    assert (one["same_day_departed"], one["same_day_share"]) == (1, pytest.approx(1 / 3))
    # Day two's list was submitted at 00:30 Shanghai time, the previous day in UTC, and departed at 02:30.
    assert two["submission_to_departure"] == {"count": 1, "median_seconds": 2 * HOUR, "p90_seconds": 2 * HOUR}
    assert (two["same_day_departed"], two["same_day_share"]) == (1, 1.0)
    assert three["submission_to_departure"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert three["same_day_share"] is None
    # The range: 2 h, 6 h, 24 h; p90 at position 1.8 is 6 + 0.8 × 18 = 20.4 h.
    total = body["total"]["submission_to_departure"]
    assert total["count"] == 3
    assert total["median_seconds"] == pytest.approx(6 * HOUR)
    assert total["p90_seconds"] == pytest.approx(20.4 * HOUR)
    assert (body["total"]["same_day_departed"], body["total"]["same_day_share"]) == (2, 0.5)


def test_a_range_of_no_exports_answers_zeros(client, admin):
    body = figures(client, admin, since=DAY_ONE, until=DAY_TWO).json

    assert len(body["days"]) == 1
    assert body["total"]["lists"] == 0
    assert body["total"]["submission_to_departure"]["median_seconds"] is None


def test_only_admins_read_the_figures(client, session, auth_headers):
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)

    assert figures(client, auth_headers(officer)).status_code == 403
    assert (
        client.get(FIGURES, query_string={"since": DAY_ONE.isoformat(), "until": DAY_TWO.isoformat()}).status_code
        == 401
    )


def test_a_range_beyond_a_quarter_is_refused_naming_until(client, admin):
    response = figures(client, admin, since=DAY_ONE, until=DAY_ONE + timedelta(days=93))

    assert response.status_code == 422
    assert "until" in response.json["errors"]["query"]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-11-02T00:00:00+08:00"},
        {"since": "2026-11-03T00:00:00+08:00", "until": "2026-11-02T00:00:00+08:00"},
        {"since": "2026-11-02T00:00:00", "until": "2026-11-03T00:00:00+08:00"},
        {"since": "0001-01-01T00:00:00+14:00", "until": "0001-01-02T00:00:00+14:00"},
        {"since": "9999-12-30T00:00:00-12:00", "until": "9999-12-31T23:00:00-12:00"},
    ],
    ids=["no until", "until before since", "naive since", "before year 1 in UTC", "after year 9999 in UTC"],
)
def test_bad_ranges_are_422_naming_the_field(client, admin, query):
    response = client.get(FIGURES, query_string=query, headers=admin)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert set(response.json["errors"]["query"]) <= {"since", "until"}
