"""The export side's handheld writes through POST /api/v1/sync: a vehicle's scan-in at the warehouse, and the
open-box recheck at the bench (opening it, its photos, its result), each applied once at the time it was done."""

from datetime import UTC, datetime, timedelta

import pytest

from app.exports.models import ParcelStage
from tests.exports.loading_helpers import (
    EXPORT_LISTS,
    RECHECKS,
    operator_of,
    released_list,
    warehouse_enterprise,
    waybills_of,
)
from tests.factories import make_export_list
from tests.inspections.helpers import JPEG, upload
from tests.sync.test_routes import action, sync

WARNINGS = "/api/v1/risk/warnings"
# Bytes of its own: the upload folder is shared by the session's tests, which find photos by content.
SYNCED_PHOTO = JPEG[:-2] + b"synced-recheck" + JPEG[-2:]


@pytest.fixture
def warehouse(session):
    return warehouse_enterprise(session)


@pytest.fixture
def operator_headers(session, warehouse, auth_headers):
    return auth_headers(operator_of(session, warehouse))


def hours_ago(*hours):
    now = datetime.now(UTC).replace(microsecond=0)
    return [now - timedelta(hours=h) for h in hours]


def scan_in(waybills, *, intact=True, **kwargs):
    body = {"plate": "渝A·12345", "seal_no": "SEAL-0001", "seal_intact": intact, "waybills": waybills}
    return action("export.scan_in", body, **kwargs)


def steps(client, headers, declaration_id):
    response = client.get(f"{EXPORT_LISTS}/{declaration_id}/timeline", headers=headers)
    assert response.status_code == 200, response.json
    return {event["step"]: event for event in response.json["events"]}


def test_an_offline_scan_in_is_applied_once_at_the_time_it_was_done(
    client, session, warehouse, operator_headers, declarant, auth_headers
):
    export = make_export_list(session, warehouse=warehouse, declarant=declarant, parcels=2)
    [done_at] = hours_ago(3)
    batch = scan_in(waybills_of(session, export), done_at=done_at)

    [first] = sync(client, operator_headers, batch)
    [again] = sync(client, operator_headers, batch)
    [rescanned] = sync(client, operator_headers, scan_in(waybills_of(session, export)))

    assert (first["outcome"], first["status"], first["result"]["scanned_in"]) == ("applied", 200, 2)
    assert (again["outcome"], again["first_outcome"], again["result"]) == ("duplicate", "applied", first["result"])
    assert (rescanned["outcome"], rescanned["result"]["counts"]) == ("applied", {"already_scanned": 2})
    parcels = client.get(f"{EXPORT_LISTS}/{export.id}", headers=operator_headers).json["parcels"]
    assert {(p["stage"], datetime.fromisoformat(p["scanned_in_at"])) for p in parcels} == {("scanned_in", done_at)}
    step = steps(client, auth_headers(declarant), export.id)["scanned_in"]
    assert (datetime.fromisoformat(step["occurred_at"]), step["details"]["parcels"]) == (done_at, 2)


def test_an_offline_scan_in_behind_a_broken_seal_is_rejected_and_customs_still_warned(
    client, session, warehouse, operator_headers, officer, auth_headers
):
    export = make_export_list(session, warehouse=warehouse, parcels=2)

    [result] = sync(client, operator_headers, scan_in(waybills_of(session, export), intact=False))

    assert (result["outcome"], result["status"], result["problem"]["code"]) == ("rejected", 422, "seal_broken")
    parcels = client.get(f"{EXPORT_LISTS}/{export.id}", headers=operator_headers).json["parcels"]
    assert {p["stage"] for p in parcels} == {"declared"}
    warnings = client.get(WARNINGS, query_string={"source": "seal"}, headers=auth_headers(officer)).json["items"]
    assert [(w["plate"], w["declaration_id"]) for w in warnings] == [("渝A12345", export.id)]


def test_an_offline_recheck_keeps_its_times_and_counts_the_photos_taken_at_the_bench(
    client, session, warehouse, declarant, officer, auth_headers
):
    export = released_list(session, warehouse, parcels=1, stage=ParcelStage.DIVERTED, declarant=declarant)
    [waybill] = waybills_of(session, export)
    headers = auth_headers(officer)
    opened_at, found_at = hours_ago(2, 1)
    result = {"waybill_no": waybill, "result": "normal", "notes": "衣物，与申报相符"}

    [opened] = sync(client, headers, action("export.recheck_task", {"declaration_id": export.id}, done_at=opened_at))
    assert upload(client, headers, opened["result"]["id"], SYNCED_PHOTO).status_code == 201
    rechecked = action("export.recheck", result, done_at=found_at)
    [applied] = sync(client, headers, rechecked)
    [again] = sync(client, headers, rechecked)

    assert (opened["outcome"], opened["result"]["status"]) == ("applied", "recheck")
    assert (applied["outcome"], applied["status"]) == ("applied", 201)
    assert (applied["result"]["parcel_stage"], applied["result"]["task_id"]) == ("passed", opened["result"]["id"])
    assert datetime.fromisoformat(applied["result"]["recorded_at"]) == found_at
    assert (again["outcome"], again["result"]) == ("duplicate", applied["result"])
    timeline = steps(client, auth_headers(declarant), export.id)
    assert datetime.fromisoformat(timeline["inspection_recheck"]["occurred_at"]) == opened_at
    assert datetime.fromisoformat(timeline["rechecked"]["occurred_at"]) == found_at
    assert timeline["rechecked"]["details"]["photos"] == 1


def test_a_parcel_rechecked_meanwhile_answers_a_conflict_with_its_stage_now(
    client, session, warehouse, declarant, officer, auth_headers
):
    export = released_list(session, warehouse, parcels=2, stage=ParcelStage.DIVERTED, declarant=declarant)
    first, _ = waybills_of(session, export)
    headers = auth_headers(officer)
    online = client.post(RECHECKS, json={"waybill_no": first, "result": "normal"}, headers=headers)
    assert online.status_code == 201, online.json
    offline = {"waybill_no": first, "result": "abnormal", "disposal": "return_to_shipper"}

    [result] = sync(client, headers, action("export.recheck", offline))

    assert (result["outcome"], result["status"], result["problem"]["code"]) == ("conflict", 409, "invalid_transition")
    assert (result["problem"]["current"]["waybill_no"], result["problem"]["current"]["stage"]) == (first, "passed")


def test_export_actions_take_the_roles_of_their_routes(
    client, session, warehouse, operator_headers, officer, auth_headers
):
    export = make_export_list(session, warehouse=warehouse, parcels=1)

    scan_by_officer, recheck_by_operator = (
        sync(client, auth_headers(officer), scan_in(waybills_of(session, export)))[0],
        sync(client, operator_headers, action("export.recheck_task", {"declaration_id": export.id}))[0],
    )

    assert (scan_by_officer["outcome"], scan_by_officer["status"]) == ("rejected", 403)
    assert (recheck_by_operator["outcome"], recheck_by_operator["status"]) == ("rejected", 403)
