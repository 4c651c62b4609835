import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.declarations.models import DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.exports.models import ExportParcel, ParcelStage
from app.users.models import Role
from tests.exports.helpers import EXPORT_LISTS
from tests.factories import make_enterprise, make_export_list, make_user

SCAN_INS = "/api/v1/export-scan-ins"
WARNINGS = "/api/v1/risk/warnings"


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保出口监管仓")


@pytest.fixture
def operator(session, warehouse):
    return make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)


def waybills(session, declaration):
    return list(
        session.scalars(
            select(ExportParcel.waybill_no)
            .where(ExportParcel.declaration_id == declaration.id)
            .order_by(ExportParcel.id)
        )
    )


def vehicle(numbers, *, seal_intact=True):
    return {"plate": "渝A·12345", "seal_no": "SEAL-0001", "seal_intact": seal_intact, "waybills": numbers}


def test_an_operator_scans_a_vehicles_parcels_into_the_warehouse(session, client, auth_headers, operator, warehouse):
    first = make_export_list(session, warehouse=warehouse, parcels=2)
    second = make_export_list(session, warehouse=warehouse, parcels=3)
    sent = waybills(session, first) + waybills(session, second) + ["CQX0000000404"]

    response = client.post(SCAN_INS, json=vehicle(sent), headers=auth_headers(operator))

    assert response.status_code == 200, response.json
    body = response.json
    assert body["plate"] == "渝A12345"
    assert body["scanned_in"] == 5
    assert body["counts"] == {"scanned_in": 5, "unknown_waybill": 1}
    assert body["lists"] == [
        {"declaration_id": first.id, "scanned_in": 2},
        {"declaration_id": second.id, "scanned_in": 3},
    ]
    assert [item["waybill_no"] for item in body["items"]] == sent
    assert body["items"][-1] == {"waybill_no": "CQX0000000404", "outcome": "unknown_waybill", "declaration_id": None}
    parcels = client.get(f"{EXPORT_LISTS}/{second.id}", headers=auth_headers(operator)).json["parcels"]
    assert {parcel["stage"] for parcel in parcels} == {"scanned_in"}
    assert all(parcel["scanned_in_at"] for parcel in parcels)


def test_each_list_touched_gets_one_timeline_step_and_one_audit_entry(
    session, client, auth_headers, operator, warehouse, declarant
):
    export = make_export_list(session, declarant=declarant, warehouse=warehouse, parcels=3)

    client.post(SCAN_INS, json=vehicle(waybills(session, export)), headers=auth_headers(operator))

    events = client.get(f"{EXPORT_LISTS}/{export.id}/timeline", headers=auth_headers(declarant)).json["events"]
    step = events[-1]
    assert [event["step"] for event in events].count("scanned_in") == 1
    assert (step["biz_step"], step["disposition"], step["status_changed"]) == ("commissioning", "active", False)
    assert step["details"] == {"parcels": 3, "plate": "渝A12345", "seal_no": "SEAL-0001"}
    audited = session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == "export.scanned_in", AuditEvent.target_id == str(export.id)
        )
    ).all()
    assert audited == [{"parcels": 3, "plate": "渝A12345", "seal_no": "SEAL-0001"}]


def test_a_second_scan_in_moves_nothing_and_says_already_scanned(session, client, auth_headers, operator, warehouse):
    export = make_export_list(session, warehouse=warehouse, parcels=2)
    client.post(SCAN_INS, json=vehicle(waybills(session, export)), headers=auth_headers(operator))

    again = client.post(SCAN_INS, json=vehicle(waybills(session, export)), headers=auth_headers(operator))

    assert again.json["counts"] == {"already_scanned": 2}
    assert again.json["lists"] == []
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "export.scanned_in").offset(1)) is None


def test_a_waybill_scanned_twice_in_one_request_is_scanned_in_once(session, client, auth_headers, operator, warehouse):
    export = make_export_list(session, warehouse=warehouse, parcels=1)
    (number,) = waybills(session, export)

    response = client.post(SCAN_INS, json=vehicle([number, number]), headers=auth_headers(operator))

    assert [item["outcome"] for item in response.json["items"]] == ["scanned_in", "repeated"]


def test_parcels_of_another_warehouse_or_of_a_refused_list_are_not_scanned_in(
    session, client, auth_headers, operator, warehouse
):
    elsewhere = make_export_list(session, parcels=1)
    rejected = make_export_list(session, warehouse=warehouse, parcels=1, status=DeclarationStatus.REJECTED)
    cancelled = make_export_list(session, warehouse=warehouse, parcels=1, status=DeclarationStatus.CANCELLED)
    sent = waybills(session, elsewhere) + waybills(session, rejected) + waybills(session, cancelled)

    response = client.post(SCAN_INS, json=vehicle(sent), headers=auth_headers(operator))

    assert [item["outcome"] for item in response.json["items"]] == [
        "not_your_warehouse",
        "list_refused",
        "list_refused",
    ]
    assert response.json["items"][0]["declaration_id"] is None  # not whose list it is
    stages = session.scalars(select(ExportParcel.stage).where(ExportParcel.waybill_no.in_(sent))).all()
    assert set(stages) == {ParcelStage.DECLARED}


def test_a_list_customs_has_not_yet_accepted_can_be_scanned_in(session, client, auth_headers, operator, warehouse):
    export = make_export_list(session, warehouse=warehouse, parcels=1, status=DeclarationStatus.SUBMITTED)

    response = client.post(SCAN_INS, json=vehicle(waybills(session, export)), headers=auth_headers(operator))

    assert response.json["counts"] == {"scanned_in": 1}


def test_a_broken_seal_stops_the_scan_in_and_warns_customs(session, client, auth_headers, operator, warehouse, officer):
    export = make_export_list(session, warehouse=warehouse, parcels=2)

    response = client.post(
        SCAN_INS, json=vehicle(waybills(session, export), seal_intact=False), headers=auth_headers(operator)
    )

    assert response.status_code == 422
    assert response.json["code"] == "seal_broken"
    assert "seal_intact" in response.json["errors"]["json"]
    stages = session.scalars(select(ExportParcel.stage).where(ExportParcel.declaration_id == export.id)).all()
    assert set(stages) == {ParcelStage.DECLARED}
    queue = client.get(WARNINGS, query_string={"source": "seal"}, headers=auth_headers(officer)).json["items"]
    assert len(queue) == 1
    assert queue[0]["plate"] == "渝A12345"
    assert queue[0]["severity"] == "high"
    assert queue[0]["declaration_id"] == export.id
    assert queue[0]["details"]["seal_no"] == "SEAL-0001"


def test_a_retried_scan_in_gets_the_first_answer_again(session, client, auth_headers, operator, warehouse):
    export = make_export_list(session, warehouse=warehouse, parcels=2)
    headers = {**auth_headers(operator), "Idempotency-Key": "0b6f1c1e-4c8e-4a51-9b1e-scan-in-1"}

    first = client.post(SCAN_INS, json=vehicle(waybills(session, export)), headers=headers)
    retried = client.post(SCAN_INS, json=vehicle(waybills(session, export)), headers=headers)

    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json == first.json
    assert retried.json["counts"] == {"scanned_in": 2}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"waybills": []}, "waybills"),
        ({"waybills": ["x" * 41]}, "waybills"),
        ({"plate": "not a plate"}, "plate"),
        ({"seal_no": "  "}, "seal_no"),
        ({"seal_intact": None}, "seal_intact"),
    ],
)
def test_malformed_scan_ins_are_refused_naming_the_field(client, auth_headers, operator, change, field):
    response = client.post(SCAN_INS, json={**vehicle(["CQX1000000001"]), **change}, headers=auth_headers(operator))

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.CUSTOMS_OFFICER, Role.XRAY_LINE])
def test_only_warehouse_operators_scan_in(session, client, auth_headers, role):
    response = client.post(
        SCAN_INS, json=vehicle(["CQX1000000001"]), headers=auth_headers(make_user(session, role=role))
    )

    assert response.status_code == 403
