"""EPCIS 2.0 capture: partners' events, validated, stored once by eventID, joining the chains of the codes they name."""

import json

import pytest
from jsonschema import Draft7Validator, FormatChecker

from app.trace import epcis
from app.trace.event_hash import event_hash
from app.users.models import Role
from tests.factories import make_user
from tests.trace.helpers import GTIN, REFERENCE, issue, make_setup, release, set_status

EXAMPLES = REFERENCE / "epcis-examples"
LD = "application/ld+json"


def example(name: str = "Example_9.6.1-ObjectEventWithDigitalLink.jsonld") -> dict:
    return json.loads((EXAMPLES / name).read_text())


def capture(client, headers, document, **extra_headers):
    return client.post(
        "/api/v1/epcis/capture",
        data=json.dumps(document),
        headers={**headers, "Content-Type": LD, **extra_headers},
    )


def shipping_event(epc: str, *, event_id: str = "urn:uuid:6d9a2c1e-0b5f-4b7e-9a53-0d7f1c2e8a11") -> dict:
    """The overseas shipper's shipping event (the standard's example) about one of our codes."""
    document = example()
    event = document["epcisBody"]["eventList"][0]
    event.update(
        eventID=event_id, epcList=[epc], eventTime="2026-01-05T09:00:00.000+01:00", eventTimeZoneOffset="+01:00"
    )
    document["epcisBody"]["eventList"] = [event]
    return document


@pytest.fixture
def live_code(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    code = issue(client, headers, setup.declaration.id, 1, lot="L2026A").json["codes"][0]
    set_status(client, headers, "affixed", serials=[code["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return {**code, "setup": setup, "officer": auth_headers(setup.officer), "operator": headers}


@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("*.jsonld")))
def test_the_standard_examples_are_captured(client, session, auth_headers, name):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    document = example(name)

    response = capture(client, officer, document)

    assert response.status_code == 201, response.json
    count = len(document["epcisBody"]["eventList"])
    assert (response.json["captured"], response.json["duplicate"], response.json["rejected"]) == (count, 0, 0)
    assert [event["outcome"] for event in response.json["events"]] == ["captured"] * count


def test_a_repeated_capture_changes_nothing_and_says_so(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    capture(client, officer, example())

    again = capture(client, officer, example())

    assert again.status_code == 200
    assert (again.json["captured"], again.json["duplicate"]) == (0, 2)
    assert {event["outcome"] for event in again.json["events"]} == {"duplicate"}


def test_a_captured_event_naming_a_code_joins_its_chain_in_time_order(client, live_code):
    response = capture(client, live_code["officer"], shipping_event(live_code["url"]))

    chain = client.get(f"/api/v1/trace/codes/{live_code['serial']}").json["chain"]
    assert response.status_code == 201
    partner = [step for step in chain if step["step"] == "partner"]
    assert [(step["biz_step"], step["disposition"], step["title"]) for step in partner] == [
        ("shipping", "in_transit", "境外发货")
    ]
    assert [step["at"] for step in chain] == sorted(step["at"] for step in chain)


def test_the_page_shows_the_partner_event(client, live_code):
    capture(client, live_code["officer"], shipping_event(live_code["url"]))

    page = client.get(f"/01/{GTIN}/10/L2026A/21/{live_code['serial']}?lang=en", headers={"Accept": "text/html"})

    assert "Shipped abroad" in page.text


def test_an_sgtin_urn_names_the_code_too(client, live_code):
    # GTIN 04006381333931 is company prefix 4006381 and item reference 033393 (indicator digit first).
    urn = f"urn:epc:id:sgtin:4006381.033393.{live_code['serial']}"

    capture(client, live_code["officer"], shipping_event(urn))

    chain = client.get(f"/api/v1/trace/codes/{live_code['serial']}").json["chain"]
    assert [step["biz_step"] for step in chain if step["step"] == "partner"] == ["shipping"]


def test_a_quantity_event_for_the_codes_lot_joins_its_chain(client, live_code):
    document = example("Example_9.6.2-ObjectEventWithDigitalLink.jsonld")
    event = document["epcisBody"]["eventList"][0]
    event["quantityList"] = [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/L2026A", "quantity": 200}]

    capture(client, live_code["officer"], document)

    chain = client.get(f"/api/v1/trace/codes/{live_code['serial']}").json["chain"]
    assert [step["biz_step"] for step in chain if step["step"] == "partner"] == ["receiving"]


def test_events_about_other_items_stay_out_of_the_chain(client, live_code):
    capture(client, live_code["officer"], example())

    chain = client.get(f"/api/v1/trace/codes/{live_code['serial']}").json["chain"]
    assert [step["step"] for step in chain] == ["audited", "released"]


def test_the_epcis_export_carries_the_captured_event_as_sent_and_validates(client, live_code):
    document = shipping_event(live_code["url"])
    capture(client, live_code["officer"], document)

    exported = client.get(f"/api/v1/trace-codes/{live_code['serial']}/epcis", headers=live_code["officer"]).json

    events = exported["epcisBody"]["eventList"]
    assert events[0]["bizStep"] == "commissioning"
    assert document["epcisBody"]["eventList"][0] in events
    schema = json.loads((REFERENCE / "EPCIS-JSON-Schema.json").read_text())
    assert [e.message for e in Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(exported)] == []


def test_one_bad_event_rejects_the_whole_document_by_default(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    document = example()
    del document["epcisBody"]["eventList"][1]["action"]

    response = capture(client, officer, document)
    retry = capture(client, officer, example())

    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert list(response.json["errors"]["json"]) == ["epcisBody/eventList/1"]
    assert retry.json["captured"] == 2  # the good event was not stored either


def test_with_proceed_the_good_events_are_stored_and_the_bad_reported(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    document = example()
    del document["epcisBody"]["eventList"][1]["action"]

    response = capture(client, officer, document, **{"GS1-Capture-Error-Behaviour": "proceed"})

    assert response.status_code == 201
    assert (response.json["captured"], response.json["rejected"]) == (1, 1)
    rejected = response.json["events"][1]
    assert (rejected["index"], rejected["outcome"]) == (1, "rejected")
    assert "action" in " ".join(rejected["errors"])


def test_an_event_without_an_event_id_is_stored_under_its_cbv_event_hash(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    document = example()
    event = document["epcisBody"]["eventList"][0]
    del event["eventID"]

    response = capture(client, officer, document)

    assert response.status_code == 201, response.json
    assert response.json["events"][0]["event_id"] == event_hash(event, context=document["@context"])


def test_the_same_event_sent_twice_without_an_event_id_is_captured_once(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    document = example()
    for event in document["epcisBody"]["eventList"]:
        del event["eventID"]

    first = capture(client, officer, document)
    again = capture(client, officer, document)

    ids = [event["event_id"] for event in first.json["events"]]
    assert (first.json["captured"], first.json["duplicate"]) == (2, 0)
    assert (again.status_code, again.json["captured"], again.json["duplicate"]) == (200, 0, 2)
    assert [event["event_id"] for event in again.json["events"]] == ids


def test_a_partners_own_event_id_is_kept(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    document = example()

    response = capture(client, officer, document)

    sent = [event["eventID"] for event in document["epcisBody"]["eventList"]]
    assert [event["event_id"] for event in response.json["events"]] == sent


def test_an_unknown_error_behaviour_is_a_422(client, session, auth_headers):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))

    response = capture(client, officer, example(), **{"GS1-Capture-Error-Behaviour": "ignore"})

    assert response.status_code == 422
    assert "GS1-Capture-Error-Behaviour" in response.json["errors"]["headers"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"type": "EPCISQueryDocument"}', LD, 422),
        ("{not json", LD, 422),
        ("<EPCISDocument/>", "application/xml", 415),
    ],
)
def test_what_is_not_an_epcis_document_is_refused(client, session, auth_headers, body, content_type, status):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))

    response = client.post("/api/v1/epcis/capture", data=body, headers={**officer, "Content-Type": content_type})

    assert response.status_code == status


def test_a_warehouse_captures_events_about_its_own_codes(client, live_code):
    response = capture(client, live_code["operator"], shipping_event(live_code["url"]))

    assert response.status_code == 201


def test_a_warehouse_may_not_capture_events_about_other_goods(client, session, auth_headers, live_code):
    other = auth_headers(make_user(session, role=Role.WAREHOUSE_OPERATOR))

    theirs = capture(client, other, shipping_event(live_code["url"]))
    unrelated = capture(client, live_code["operator"], example())

    assert (theirs.status_code, unrelated.status_code) == (422, 422)
    assert "warehouse" in theirs.json["errors"]["json"]["epcisBody/eventList/0"][0]


def test_declarants_may_not_capture(client, session, auth_headers):
    declarant = auth_headers(make_user(session, role=Role.DECLARANT))

    assert capture(client, declarant, example()).status_code == 403


def test_the_schema_the_service_validates_with_is_gs1s():
    assert epcis.SCHEMA_FILE.read_bytes() == (REFERENCE / "EPCIS-JSON-Schema.json").read_bytes()
