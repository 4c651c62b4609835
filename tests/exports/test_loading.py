import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth import service as auth
from app.declarations.models import DeclarationStatus
from app.exports.models import ExportParcel, ParcelStage
from app.users.models import Role
from tests.exports.loading_helpers import (
    BAGS,
    CONTAINERS,
    LOAD,
    ULD,
    container_body,
    operator_of,
    parcel,
    released_list,
    steps,
    warehouse_enterprise,
    waybills_of,
)
from tests.factories import make_user


@pytest.fixture
def warehouse(session):
    return warehouse_enterprise(session)


@pytest.fixture
def operator(session, warehouse, auth_headers):
    return auth_headers(operator_of(session, warehouse))


def open_bag(client, headers, bag_no="MB-0001"):
    response = client.post(BAGS, json={"bag_no": bag_no}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["id"]


def scan(client, headers, bag_id, waybills):
    return client.post(f"{BAGS}/{bag_id}/parcels", json={"waybills": waybills}, headers=headers)


def test_an_operator_bags_the_passed_parcels_of_a_released_list(session, client, warehouse, operator):
    export = released_list(session, warehouse)
    waybills = waybills_of(session, export)
    bag_id = open_bag(client, operator)

    response = scan(client, operator, bag_id, waybills)

    assert response.status_code == 200, response.json
    assert [r["outcome"] for r in response.json["results"]] == ["bagged"] * 3
    assert response.json["bag"]["parcel_count"] == 3
    assert response.json["bag"]["gross_weight"] == "4.5000"
    assert parcel(session, waybills[0]).stage is ParcelStage.BAGGED
    assert client.get(f"{BAGS}/{bag_id}", headers=operator).json["waybills"] == waybills
    (step,) = steps(session, export, "bagged")
    assert (step.biz_step.value, step.status_changed) == ("packing", False)
    assert step.details["action"] == "ADD"
    assert (step.details["parent_type"], step.details["parent_id"]) == ("bag", bag_id)
    assert (step.details["child_count"], step.details["child_waybills"]) == (3, waybills)


def test_each_waybill_that_may_not_be_bagged_says_why(session, client, warehouse, operator):
    passed = released_list(session, warehouse, parcels=1)
    diverted = released_list(session, warehouse, parcels=1, stage=ParcelStage.DIVERTED)
    unreleased = released_list(session, warehouse, parcels=1, status=DeclarationStatus.ACCEPTED)
    elsewhere = released_list(session, warehouse_enterprise(session), parcels=1)
    [mine] = waybills_of(session, passed)
    bag_id = open_bag(client, operator)
    assert scan(client, operator, bag_id, [mine]).status_code == 200

    wanted = [
        mine,
        *waybills_of(session, diverted),
        *waybills_of(session, unreleased),
        *waybills_of(session, elsewhere),
        "NOSUCH0001",
    ]
    response = scan(client, operator, bag_id, wanted)

    assert [r["outcome"] for r in response.json["results"]] == [
        "already_in_bag",
        "not_passed",
        "list_not_released",
        "not_your_warehouse",
        "unknown_waybill",
    ]
    assert response.json["bag"]["parcel_count"] == 1


def test_a_parcel_in_one_bag_cannot_go_into_another(session, client, warehouse, operator):
    [waybill] = waybills_of(session, released_list(session, warehouse, parcels=1))
    first, second = open_bag(client, operator, "MB-0001"), open_bag(client, operator, "MB-0002")
    scan(client, operator, first, [waybill])

    response = scan(client, operator, second, [waybill])

    assert response.json["results"] == [{"waybill_no": waybill, "outcome": "in_another_bag"}]
    assert parcel(session, waybill).bag_id == first


def test_bags_are_closed_loaded_into_a_container_and_sealed(session, client, warehouse, operator):
    export = released_list(session, warehouse, parcels=4)
    waybills = waybills_of(session, export)
    bags = [open_bag(client, operator, "MB-0001"), open_bag(client, operator, "MB-0002")]
    scan(client, operator, bags[0], waybills[:2])
    scan(client, operator, bags[1], waybills[2:])
    for bag_id in bags:
        assert client.post(f"{BAGS}/{bag_id}/close", headers=operator).json["status"] == "closed"
    container = client.post(CONTAINERS, json=container_body(), headers=operator).json

    loaded = client.post(
        f"{CONTAINERS}/{container['id']}/bags", json={"bag_nos": ["MB-0001", "MB-0002", "MB-9999"]}, headers=operator
    )
    sealed = client.post(f"{CONTAINERS}/{container['id']}/seal", json={"seal_no": "SEAL-0001"}, headers=operator)

    assert [r["outcome"] for r in loaded.json["results"]] == ["loaded", "loaded", "unknown_bag"]
    assert sealed.status_code == 200, sealed.json
    assert (sealed.json["status"], sealed.json["seal_no"]) == ("sealed", "SEAL-0001")
    assert [bag["status"] for bag in sealed.json["bags"]] == ["loaded", "loaded"]
    assert {parcel(session, waybill).stage for waybill in waybills} == {ParcelStage.LOADED}
    (step,) = steps(session, export, "loaded")
    assert (step.biz_step.value, step.disposition.value) == ("loading", "container_closed")
    assert (step.details["parent_type"], step.details["child_count"]) == ("container", 4)


def test_an_empty_bag_is_not_closed_and_an_empty_container_not_sealed(client, operator):
    bag_id = open_bag(client, operator)
    container = client.post(CONTAINERS, json=container_body(), headers=operator).json

    closed = client.post(f"{BAGS}/{bag_id}/close", headers=operator)
    sealed = client.post(f"{CONTAINERS}/{container['id']}/seal", json={"seal_no": "SEAL-0001"}, headers=operator)

    assert (closed.status_code, closed.json["code"]) == (409, "invalid_transition")
    assert (sealed.status_code, sealed.json["code"]) == (409, "invalid_transition")


def test_another_warehouses_bag_is_not_there_and_declarants_may_not_load(
    session, client, warehouse, operator, auth_headers
):
    bag_id = open_bag(client, operator)
    stranger = auth_headers(operator_of(session, warehouse_enterprise(session)))
    declarant = auth_headers(make_user(session, role=Role.DECLARANT))

    assert client.get(f"{BAGS}/{bag_id}", headers=stranger).status_code == 404
    assert scan(client, stranger, bag_id, ["CQX1000000001"]).status_code == 404
    assert client.post(BAGS, json={"bag_no": "MB-0009"}, headers=declarant).status_code == 403
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    assert client.get(f"{BAGS}/{bag_id}", headers=officer).status_code == 200


def test_a_bag_number_is_used_once_and_a_live_container_number_once(client, operator):
    open_bag(client, operator)
    assert client.post(CONTAINERS, json=container_body(), headers=operator).status_code == 201

    again = client.post(BAGS, json={"bag_no": "MB-0001"}, headers=operator)
    same_container = client.post(CONTAINERS, json=container_body(), headers=operator)

    assert (again.status_code, again.json["code"]) == (409, "bag_no_taken")
    assert (same_container.status_code, same_container.json["code"]) == (409, "container_no_in_use")


def load_body(bags, **overrides):
    return {**container_body(**overrides), "bags": [{"bag_no": no, "waybills": w} for no, w in bags]}


def test_one_request_loads_a_whole_container_and_reports_each_refusal(session, client, warehouse, operator):
    lists = [released_list(session, warehouse, parcels=3) for _ in range(3)]
    first, second, third = (waybills_of(session, export) for export in lists)
    diverted = waybills_of(session, released_list(session, warehouse, parcels=1, stage=ParcelStage.DIVERTED))
    body = load_body([("MB-0001", first + second[:1]), ("MB-0002", second[1:] + third + diverted)], seal_no="SL-01")

    response = client.post(LOAD, json=body, headers=operator)

    assert response.status_code == 201, response.json
    assert response.json["loaded"] == 9
    assert response.json["refused"] == [{"bag_no": "MB-0002", "waybill_no": diverted[0], "outcome": "not_passed"}]
    container = response.json["container"]
    assert (container["status"], container["seal_no"]) == ("sealed", "SL-01")
    assert [(bag["bag_no"], bag["parcel_count"], bag["status"]) for bag in container["bags"]] == [
        ("MB-0001", 4, "loaded"),
        ("MB-0002", 5, "loaded"),
    ]
    assert {parcel(session, w).stage for w in first + second + third} == {ParcelStage.LOADED}
    assert [s.details["parent_no"] for s in steps(session, lists[1], "bagged")] == ["MB-0001", "MB-0002"]
    assert [s.details["child_count"] for s in steps(session, lists[1], "loaded")] == [3]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("export.%"))).all()
    assert sorted(actions) == ["export.bag_loaded", "export.bag_loaded", "export.container_loaded"]


def test_one_request_load_leaves_out_a_bag_whose_number_is_taken(session, client, warehouse, operator):
    loadable = waybills_of(session, released_list(session, warehouse, parcels=2))
    open_bag(client, operator, "MB-0001")

    response = client.post(
        LOAD, json=load_body([("MB-0001", loadable[:1]), ("MB-0002", loadable[1:])]), headers=operator
    )

    assert response.status_code == 201, response.json
    assert response.json["loaded"] == 1
    assert response.json["refused_bags"] == [{"bag_no": "MB-0001", "reason": "bag_no_taken"}]
    assert response.json["refused"][0]["outcome"] == "bag_refused"


def test_one_request_load_with_nothing_loadable_is_refused(session, client, warehouse, operator):
    unreleased = released_list(session, warehouse, parcels=1, status=DeclarationStatus.ACCEPTED)

    response = client.post(LOAD, json=load_body([("MB-0001", waybills_of(session, unreleased))]), headers=operator)

    assert (response.status_code, response.json["code"]) == (409, "nothing_loaded")
    assert client.get(CONTAINERS, headers=operator).json["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (load_body([("MB-0001", ["CQX1000000001"]), ("MB-0002", ["CQX1000000001"])]), "bags"),
        (load_body([("MB-0001", ["CQX1000000001"]), ("MB-0001", ["CQX1000000002"])]), "bags"),
        (load_body([("MB-0001", ["CQX1000000001"])], container_no="CSQU3054384"), "container_no"),
        (load_body([("MB-0001", ["CQX1000000001"])], traf_mode="9"), "traf_mode"),
        (load_body([]), "bags"),
    ],
)
def test_a_malformed_load_is_refused_naming_the_field(client, operator, body, field):
    response = client.post(LOAD, json=body, headers=operator)

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]


def test_an_air_uld_is_a_container_too(client, operator):
    response = client.post(CONTAINERS, json=container_body(container_no="ake 12345 ca"), headers=operator)

    assert response.status_code == 201, response.json
    assert response.json["container_no"] == ULD


@pytest.mark.postgres_only
def test_two_requests_bagging_one_parcel_at_once_bag_it_once(racing_app):
    contenders = 6
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        warehouse = warehouse_enterprise(session)
        [waybill] = waybills_of(session, released_list(session, warehouse, parcels=1))
        user = operator_of(session, warehouse)
        settings = racing_app.extensions["settings"]
        token = auth.open_session(session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings)
    headers = {"Authorization": f"Bearer {token.access_token}"}
    client = racing_app.test_client()
    bag_ids = [open_bag(client, headers, f"MB-RACE-{n}") for n in range(contenders)]
    start_together = threading.Barrier(contenders)

    def bag(bag_id):
        start_together.wait()
        response = racing_app.test_client().post(
            f"{BAGS}/{bag_id}/parcels", json={"waybills": [waybill]}, headers=headers
        )
        return response.status_code, response.json["results"][0]["outcome"]

    with ThreadPoolExecutor(max_workers=contenders) as pool:
        results = list(pool.map(bag, bag_ids))

    assert sorted(results) == [(200, "bagged")] + [(200, "in_another_bag")] * (contenders - 1)
    with racing_app.extensions["sessionmaker"]() as session:
        assert session.scalar(select(func.count()).where(ExportParcel.bag_id.is_not(None))) == 1
