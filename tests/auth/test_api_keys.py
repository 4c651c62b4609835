"""Machine accounts authenticate with API keys that admins issue, rotate and revoke."""

import hashlib

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth import api_keys
from app.auth.models import ApiKey
from app.common import clock
from app.users.models import Role
from tests.factories import PASSWORD, make_declaration, make_user

USERS = "/api/v1/admin/users"
RECEIPTS = "/api/v1/customs/receipts"
BONDED_LISTS = "/api/v1/bonded-lists"


@pytest.fixture
def as_admin(admin, auth_headers):
    return auth_headers(admin)


@pytest.fixture
def machine(session):
    return make_user(session, role=Role.CUSTOMS_GATEWAY)


@pytest.fixture
def cache_clock(app, monkeypatch):
    """The process's key cache with a clock moved by hand (and emptied before and after)."""
    cache = app.extensions["api_key_cache"]
    now = [1_000_000.0]
    cache.clear()
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    yield now
    cache.clear()


def issue(client, as_admin, user, name="gateway host 1"):
    return client.post(f"{USERS}/{user.id}/api-keys", json={"name": name}, headers=as_admin)


def key_of(response) -> dict[str, str]:
    assert response.status_code == 201, response.json
    return {"Authorization": f"ApiKey {response.json['key']}"}


def receipt(session, declarant):
    declaration = make_declaration(session, declarant=declarant)
    return {"receipts": [{"guid": declaration.guid, "status_code": 120, "return_time": "20261111093000000"}]}


def test_a_key_is_shown_once_and_kept_only_as_its_hash(client, session, as_admin, machine):
    created = issue(client, as_admin, machine)
    listed = client.get(f"{USERS}/{machine.id}/api-keys", headers=as_admin)

    key = created.json["key"]
    stored = session.scalar(select(ApiKey).where(ApiKey.id == created.json["id"]))
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(created.json["prefix"]) and len(key) > 40
    assert [item["id"] for item in listed.json["items"]] == [created.json["id"]]
    assert "key" not in listed.json["items"][0]


def test_the_gateway_posts_receipts_with_its_key_in_either_header(client, session, as_admin, machine, declarant):
    key = issue(client, as_admin, machine).json["key"]

    by_authorization = client.post(
        RECEIPTS, json=receipt(session, declarant), headers={"Authorization": f"ApiKey {key}"}
    )
    by_x_api_key = client.post(RECEIPTS, json=receipt(session, declarant), headers={"X-API-Key": key})
    reading = client.get(BONDED_LISTS, headers={"X-API-Key": key})

    assert by_authorization.status_code == 200, by_authorization.json
    assert by_x_api_key.json["results"][0]["outcome"] == "applied"
    assert reading.status_code == 200


def test_two_keys_overlap_during_a_rotation_and_a_revoked_one_stops_at_once(
    client, session, as_admin, machine, declarant
):
    old = issue(client, as_admin, machine, "old")
    new = issue(client, as_admin, machine, "new")
    third = issue(client, as_admin, machine, "third")
    both_work = [client.get(BONDED_LISTS, headers=key_of(k)).status_code for k in (old, new)]

    revoked = client.delete(f"{USERS}/{machine.id}/api-keys/{old.json['id']}", headers=as_admin)
    refused = client.get(BONDED_LISTS, headers=key_of(old))

    assert both_work == [200, 200]
    assert (third.status_code, third.json["code"]) == (409, "api_key_limit_reached")
    assert revoked.status_code == 204
    assert (refused.status_code, refused.json["code"]) == (401, "api_key_invalid")
    assert client.get(BONDED_LISTS, headers=key_of(new)).status_code == 200
    assert issue(client, as_admin, machine, "next").status_code == 201


def test_the_last_use_is_recorded_and_listed(client, as_admin, machine):
    created = issue(client, as_admin, machine)
    client.get(BONDED_LISTS, headers=key_of(created))

    [item] = client.get(f"{USERS}/{machine.id}/api-keys", headers=as_admin).json["items"]

    assert item["last_used_at"] is not None
    assert item["revoked_at"] is None


def test_issuing_and_revoking_keys_is_audited(client, session, as_admin, machine):
    created = issue(client, as_admin, machine)
    client.delete(f"{USERS}/{machine.id}/api-keys/{created.json['id']}", headers=as_admin)

    events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("auth.api_key_%"))).all()

    assert sorted(event.action for event in events) == ["auth.api_key_created", "auth.api_key_revoked"]
    assert all(event.details["key_id"] == created.json["id"] for event in events)
    assert created.json["key"] not in str([event.details for event in events])


def test_people_get_no_keys_and_only_admins_issue_them(client, session, as_admin, auth_headers, machine):
    person = make_user(session, role=Role.CUSTOMS_OFFICER)

    for_a_person = issue(client, as_admin, person)
    by_an_officer = issue(client, auth_headers(person), machine)

    assert (for_a_person.status_code, for_a_person.json["code"]) == (409, "not_a_machine_account")
    assert by_an_officer.status_code == 403


def test_a_key_opens_no_persons_pages_and_no_sign_in_bound_endpoint(client, as_admin, machine):
    headers = key_of(issue(client, as_admin, machine))

    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 401
    assert client.post("/api/v1/notices/stream-ticket", headers=headers).status_code == 401
    assert client.get("/api/v1/admin/users", headers=headers).status_code == 401


def test_a_machine_with_a_key_can_no_longer_sign_in_with_its_password(client, as_admin, machine):
    login = {"username": machine.username, "password": PASSWORD}
    before = client.post("/api/v1/auth/login", json=login)
    issue(client, as_admin, machine)

    after = client.post("/api/v1/auth/login", json=login)

    assert before.status_code == 200
    assert (after.status_code, after.json["code"]) == (401, "invalid_credentials")


def test_the_openapi_document_offers_api_keys_where_machines_call(client):
    document = client.get("/api/v1/openapi.json").json

    assert document["components"]["securitySchemes"]["apiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": document["components"]["securitySchemes"]["apiKeyAuth"]["description"],
    }
    assert {"apiKeyAuth": []} in document["paths"][RECEIPTS]["post"]["security"]
    assert document["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]


def test_a_key_revoked_by_another_worker_stops_within_the_cache_seconds(
    client, session, as_admin, machine, cache_clock
):
    headers = key_of(issue(client, as_admin, machine))
    first = client.get(BONDED_LISTS, headers=headers)
    # Another worker (or host) revokes it: this process hears nothing of it.
    session.execute(update(ApiKey).where(ApiKey.user_id == machine.id).values(revoked_at=clock.utcnow()))
    session.flush()

    believed = client.get(BONDED_LISTS, headers=headers)
    cache_clock[0] += api_keys.CACHE_SECONDS
    refused = client.get(BONDED_LISTS, headers=headers)

    assert (first.status_code, believed.status_code) == (200, 200)
    assert (refused.status_code, refused.json["code"]) == (401, "api_key_invalid")


def test_a_machine_account_disabled_by_an_admin_is_refused_at_once(client, as_admin, machine, cache_clock):
    headers = key_of(issue(client, as_admin, machine))
    first = client.get(BONDED_LISTS, headers=headers)

    disabled = client.patch(f"{USERS}/{machine.id}", json={"active": False}, headers=as_admin)
    refused = client.get(BONDED_LISTS, headers=headers)

    assert (first.status_code, disabled.status_code) == (200, 200)
    assert (refused.status_code, refused.json["code"]) == (401, "account_disabled")


def test_a_cached_key_still_records_its_use_each_minute(client, session, as_admin, machine, cache_clock, monkeypatch):
    created = issue(client, as_admin, machine)
    client.get(BONDED_LISTS, headers=key_of(created))
    first = session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == created.json["id"]))
    later = clock.utcnow() + api_keys.LAST_USED_RESOLUTION
    monkeypatch.setattr(clock, "utcnow", lambda: later)

    client.get(BONDED_LISTS, headers=key_of(created))
    session.expire_all()

    assert first is not None
    assert session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == created.json["id"])) == later
