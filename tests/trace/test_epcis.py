import json

import pytest
from jsonschema import Draft7Validator, FormatChecker

from app.trace.event_hash import event_hash
from app.users.models import Role
from tests.factories import make_user
from tests.trace.helpers import GTIN, REFERENCE, issue, make_setup, release, set_status


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((REFERENCE / "EPCIS-JSON-Schema.json").read_text())
    return Draft7Validator(schema, format_checker=FormatChecker())


@pytest.fixture
def exported(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serial = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]
    set_status(client, headers, "affixed", serials=[serial])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    response = client.get(f"/api/v1/trace-codes/{serial}/epcis", headers=auth_headers(setup.officer))
    return {"serial": serial, "setup": setup, "response": response, "headers": headers}


def test_the_standard_examples_validate_and_a_broken_one_does_not(validator):
    example = json.loads((REFERENCE / "epcis-examples" / "Example_9.6.1-ObjectEventWithDigitalLink.jsonld").read_text())
    assert list(validator.iter_errors(example)) == []

    del example["epcisBody"]["eventList"][0]["action"]
    assert list(validator.iter_errors(example)) != []


def test_the_export_validates_against_the_epcis_schema(validator, exported):
    response = exported["response"]

    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert [error.message for error in validator.iter_errors(response.json)] == []


def test_the_export_tells_commissioning_then_each_clearance_step(exported, settings):
    events = exported["response"].json["epcisBody"]["eventList"]
    declaration = exported["setup"].declaration

    assert [(event["action"], event["bizStep"]) for event in events] == [
        ("ADD", "commissioning"),
        ("OBSERVE", "holding"),
        ("OBSERVE", "departing"),
    ]
    assert events[-1]["disposition"] == "sellable_accessible"
    assert events[0]["epcList"] == [f"https://{settings.trace_host}/01/{GTIN}/21/{exported['serial']}"]
    transaction = events[0]["bizTransactionList"][0]
    assert transaction["type"] == f"https://{settings.trace_host}/voc/customsInventoryList"
    assert transaction["bizTransaction"].endswith(declaration.invt_no)
    assert events[0]["sourceList"][0]["type"] == "owning_party"
    assert events[0]["bizLocation"]["id"].endswith(declaration.area_code)


def test_event_ids_are_the_cbv_event_hashes_and_stable(client, exported):
    again = client.get(f"/api/v1/trace-codes/{exported['serial']}/epcis", headers=exported["headers"]).json

    events = exported["response"].json["epcisBody"]["eventList"]
    first_ids = [event["eventID"] for event in events]
    assert [event["eventID"] for event in again["epcisBody"]["eventList"]] == first_ids
    assert len(set(first_ids)) == len(first_ids)
    assert first_ids == [event_hash({k: v for k, v in event.items() if k != "eventID"}) for event in events]


def test_the_export_is_for_staff_only(client, session, auth_headers, exported):
    declarant = make_user(session, role=Role.DECLARANT)

    response = client.get(f"/api/v1/trace-codes/{exported['serial']}/epcis", headers=auth_headers(declarant))

    assert response.status_code == 403
