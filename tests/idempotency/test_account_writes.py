"""The app's own writes (devices, notices, profile), the customs side's (receipts, lists, releases) and the admin's,
each sent twice with one Idempotency-Key: done once, answered the same twice."""

from app.bonded_lists.models import InvtStatus
from app.customs.models import Receipt
from app.declarations.models import DeclarationStatus
from app.devices.models import Device
from app.enterprises.models import Enterprise
from app.users.models import Role
from tests.devices.helpers import iphone
from tests.factories import make_bonded_list, make_declaration, make_device, make_enterprise, make_user, valid_uscc
from tests.idempotency.helpers import audited, count, twice
from tests.notices.test_routes import notify

RECEIPTS = "/api/v1/customs/receipts"
LISTS = "/api/v1/bonded-lists"


def test_a_device_registered_twice_answers_created_twice(client, session, auth_headers, declarant):
    first = twice(client, "PUT", "/api/v1/devices/install-0001", headers=auth_headers(declarant), json=iphone())

    # Done again, the registration would answer 200 "refreshed".
    assert first.status_code == 201
    assert count(session, Device, Device.user_id == declarant.id) == 1


def test_a_device_unregistered_twice_answers_204_twice(client, session, auth_headers, declarant):
    device = make_device(session, user=declarant)

    first = twice(client, "DELETE", f"/api/v1/devices/{device.device_id}", headers=auth_headers(declarant))

    # Done again, the sign-out would answer 404.
    assert first.status_code == 204


def test_an_ack_sent_twice_answers_the_count_acknowledged_first(client, session, auth_headers, declarant):
    made = [notify(session, declarant)[0] for _ in range(2)]

    first = twice(
        client, "POST", "/api/v1/notices/ack", headers=auth_headers(declarant), json={"up_to_seq": made[1].seq}
    )

    # Done again, the ack would answer {"updated": 0}.
    assert first.json == {"updated": 2}


def test_a_read_mark_sent_twice_answers_the_count_marked_first(client, session, auth_headers, declarant):
    made = notify(session, declarant)[0]

    first = twice(
        client, "POST", "/api/v1/notices/read", headers=auth_headers(declarant), json={"ids": [str(made.notice_id)]}
    )

    assert first.json == {"updated": 1}


def test_a_profile_change_sent_twice_answers_the_same(client, session, auth_headers, declarant):
    first = twice(client, "PATCH", "/api/v1/me", headers=auth_headers(declarant), json={"language": "en"})

    assert first.json["language"] == "en"


def test_receipts_sent_twice_are_stored_and_applied_once(client, session, auth_headers, gateway, declarant):
    declaration = make_declaration(session, declarant=declarant)
    body = {"receipts": [{"guid": declaration.guid, "status_code": 120, "return_time": "20261111093000123"}]}

    first = twice(client, "POST", RECEIPTS, headers=auth_headers(gateway), json=body)

    # Done again, the receipt would be reported a duplicate.
    assert [result["outcome"] for result in first.json["results"]] == ["applied"]
    assert count(session, Receipt, Receipt.declaration_id == declaration.id) == 1


def stored_unknown_receipt(client, auth_headers, gateway, cop_no):
    body = {"receipts": [{"cop_no": cop_no, "status_code": 120, "return_time": "20261111093000000"}]}
    return client.post(RECEIPTS, json=body, headers=auth_headers(gateway)).json["results"][0]["receipt_id"]


def test_a_receipt_retry_sent_twice_applies_it_once(client, session, auth_headers, gateway, admin, declarant):
    receipt_id = stored_unknown_receipt(client, auth_headers, gateway, "NOT-YET-HERE")
    declaration = make_declaration(session, declarant=declarant, cop_no="NOT-YET-HERE")

    first = twice(client, "POST", f"{RECEIPTS}/{receipt_id}/retry", headers=auth_headers(admin))

    assert first.json["outcome"] == "applied"
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.ACCEPTED


def test_a_receipt_dismissal_sent_twice_answers_dismissed_twice(client, session, auth_headers, gateway, admin):
    receipt_id = stored_unknown_receipt(client, auth_headers, gateway, "NOBODY")

    # Done again, the dismissal would answer 409.
    first = twice(client, "POST", f"{RECEIPTS}/{receipt_id}/dismiss", headers=auth_headers(admin))

    assert first.json["resolved_at"]


def test_a_release_sent_twice_is_recorded_once(client, session, auth_headers, officer):
    declaration = make_declaration(session, status=DeclarationStatus.AUDITED)

    first = twice(
        client, "POST", f"/api/v1/declarations/{declaration.id}/release", headers=auth_headers(officer), json={}
    )

    assert first.json["status"] == "released"


def test_a_bonded_list_approval_and_entry_release_sent_twice_are_recorded_once(client, session, auth_headers, gateway):
    bonded_list = make_bonded_list(session)
    headers = auth_headers(gateway)

    twice(client, "POST", f"{LISTS}/{bonded_list.id}/approval", headers=headers, json={"result": "approved"})
    released = twice(client, "POST", f"{LISTS}/{bonded_list.id}/entry-release", headers=headers, json={})

    assert released.json["invt_stucd"] == "approved"
    assert (audited(session, "bonded_list.approved"), audited(session, "bonded_list.entry_released")) == (1, 1)


def test_a_bonded_list_deleted_twice_answers_deleted_twice(client, session, auth_headers, declarant):
    bonded_list = make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.DECLARED)

    first = twice(client, "DELETE", f"{LISTS}/{bonded_list.id}", headers=auth_headers(declarant))

    assert first.status_code == 200
    assert audited(session, "bonded_list.deleted") == 1


def test_an_enterprise_registered_and_changed_twice_is_one_changed_once(client, session, auth_headers, admin):
    headers = auth_headers(admin)
    body = {"name": "Chongqing Bonded Trading 9", "uscc": valid_uscc(990001), "customs_reg_code": "6100990001"}

    created = twice(client, "POST", "/api/v1/admin/enterprises", headers=headers, json={**body, "kinds": ["ebc"]})
    twice(
        client,
        "PATCH",
        f"/api/v1/admin/enterprises/{created.json['id']}",
        headers=headers,
        json={"name": "重庆保税贸易"},
    )

    assert count(session, Enterprise, Enterprise.uscc == body["uscc"]) == 1
    assert (audited(session, "admin.enterprise_created"), audited(session, "admin.enterprise_updated")) == (1, 1)


def test_a_user_change_sent_twice_is_recorded_once(client, session, auth_headers, admin):
    user = make_user(session, role=Role.DECLARANT, enterprise=make_enterprise(session))

    first = twice(
        client, "PATCH", f"/api/v1/admin/users/{user.id}", headers=auth_headers(admin), json={"display_name": "王五"}
    )

    assert first.json["display_name"] == "王五"
    assert audited(session, "admin.user_updated") == 1
