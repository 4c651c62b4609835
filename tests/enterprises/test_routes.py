import itertools

import pytest
from stdnum.cn import uscc

from app.enterprises.models import CreditLevel, EnterpriseKind
from app.users.models import Role
from tests.factories import PASSWORD, make_enterprise, make_user, valid_uscc

ADMIN_ENTERPRISES = "/api/v1/admin/enterprises"
ENTERPRISES = "/api/v1/enterprises"
# The check character's alphabet: digits and capitals except I, O, S, V and Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# Far above the factories' serials, so codes registered through the API never collide with theirs.
_serial = itertools.count(7_000_000)


@pytest.fixture
def admin_headers(admin, auth_headers):
    return auth_headers(admin)


def new_payload(**overrides):
    serial = next(_serial)
    payload = {
        "name": f"Chongqing Bonded Trading {serial}",
        "uscc": valid_uscc(serial),
        "customs_reg_code": f"61{serial:08d}",
        "kinds": ["ebc"],
    }
    payload.update(overrides)
    return payload


def register(client, headers, **overrides):
    return client.post(ADMIN_ENTERPRISES, json=new_payload(**overrides), headers=headers)


def patch(client, headers, enterprise_id, body):
    return client.patch(f"{ADMIN_ENTERPRISES}/{enterprise_id}", json=body, headers=headers)


def list_ids(client, headers, **query):
    response = client.get(ADMIN_ENTERPRISES, query_string=query, headers=headers)
    assert response.status_code == 200
    return [item["id"] for item in response.json["items"]]


def login(client, username):
    return client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})


def with_wrong_check_character(code):
    return code[:-1] + next(char for char in USCC_ALPHABET if char != code[-1])


# Registration


def test_admin_registers_an_enterprise(client, admin_headers):
    payload = new_payload(
        kinds=["ebc", "ebp"],
        credit_level="advanced_certified",
        general_taxpayer_pilot=True,
    )

    response = client.post(ADMIN_ENTERPRISES, json=payload, headers=admin_headers)

    assert response.status_code == 201
    body = response.json
    assert isinstance(body["id"], int)
    assert body["name"] == payload["name"]
    assert body["uscc"] == payload["uscc"]
    assert body["customs_reg_code"] == payload["customs_reg_code"]
    assert sorted(body["kinds"]) == ["ebc", "ebp"]
    assert body["credit_level"] == "advanced_certified"
    assert body["general_taxpayer_pilot"] is True
    assert body["active"] is True
    assert body["created_at"]


def test_a_registered_enterprise_can_be_read_back(client, admin_headers):
    created = register(client, admin_headers, kinds=["agent", "zone_enterprise"]).json

    response = client.get(f"{ADMIN_ENTERPRISES}/{created['id']}", headers=admin_headers)

    assert response.status_code == 200
    assert response.json == created


def test_registration_defaults_to_general_credit_and_no_taxpayer_pilot(client, admin_headers):
    response = register(client, admin_headers)

    assert response.status_code == 201
    assert response.json["credit_level"] == "general"
    assert response.json["general_taxpayer_pilot"] is False


def test_registration_upper_cases_the_customs_code(client, admin_headers):
    response = register(client, admin_headers, customs_reg_code="5002ab9c01")

    assert response.status_code == 201
    assert response.json["customs_reg_code"] == "5002AB9C01"


def test_registration_collapses_duplicate_kinds(client, admin_headers):
    response = register(client, admin_headers, kinds=["ebc", "agent", "ebc", "agent"])

    assert response.status_code == 201
    assert sorted(response.json["kinds"]) == ["agent", "ebc"]


def test_registration_accepts_a_uscc_computed_with_stdnum(client, admin_headers):
    body = "91110108MA01ABCD1"
    code = body + uscc.calc_check_digit(body)

    response = register(client, admin_headers, uscc=code)

    assert response.status_code == 201
    assert response.json["uscc"] == code


def test_registration_is_written_to_the_audit_trail(client, admin, admin_headers):
    created = register(client, admin_headers).json

    events = client.get(
        "/api/v1/admin/audit-events",
        query_string={"action": "admin.enterprise_created", "target_id": str(created["id"])},
        headers=admin_headers,
    ).json["items"]

    assert len(events) == 1
    assert events[0]["actor_id"] == admin.id
    assert events[0]["details"]["uscc"] == created["uscc"]


def test_a_uscc_with_a_wrong_check_character_is_refused(client, admin_headers):
    response = register(client, admin_headers, uscc=with_wrong_check_character(valid_uscc(next(_serial))))

    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert list(response.json["errors"]["json"]) == ["uscc"]
    assert "check character" in response.json["errors"]["json"]["uscc"][0]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("91500000MA0000001", id="17-characters"),
        pytest.param("91500000MA00000017X", id="19-characters"),
        pytest.param("9A500000MA00000010", id="letter-in-the-digit-part"),
        *(pytest.param(f"91500000MA{letter}000000", id=f"letter-{letter}") for letter in "IOZSV"),
    ],
)
def test_a_malformed_uscc_is_refused(client, admin_headers, code):
    response = register(client, admin_headers, uscc=code)

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["uscc"]
    # A format error, not a checksum one: the caller should re-type, not re-read the check character.
    assert "check character" not in response.json["errors"]["json"]["uscc"][0]


@pytest.mark.parametrize("code", ["500220001", "50022000012", "50022-0001", "5002 20001", "５００２２０００１"])
def test_a_malformed_customs_code_is_refused(client, admin_headers, code):
    response = register(client, admin_headers, customs_reg_code=code)

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["customs_reg_code"]


def test_registration_needs_at_least_one_kind(client, admin_headers):
    response = register(client, admin_headers, kinds=[])

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["kinds"]


def test_an_unknown_kind_is_refused(client, admin_headers):
    response = register(client, admin_headers, kinds=["ebc", "smuggler"])

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["kinds"]


def test_an_unknown_field_is_refused(client, admin_headers):
    response = register(client, admin_headers, founded="2020-01-01")

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["founded"]


def test_registration_lists_every_missing_field(client, admin_headers):
    response = client.post(ADMIN_ENTERPRISES, json={}, headers=admin_headers)

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"name", "uscc", "customs_reg_code", "kinds"}


def test_a_blank_name_is_refused(client, admin_headers):
    response = register(client, admin_headers, name="    ")

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["name"]


def test_a_taken_uscc_is_a_conflict(client, session, admin_headers):
    existing = make_enterprise(session)

    response = register(client, admin_headers, uscc=existing.uscc)

    assert response.status_code == 409
    assert response.json["code"] == "enterprise_code_taken"
    assert list(response.json["errors"]["json"]) == ["uscc"]


def test_a_taken_customs_code_is_a_conflict(client, session, admin_headers):
    existing = make_enterprise(session)

    response = register(client, admin_headers, customs_reg_code=existing.customs_reg_code)

    assert response.status_code == 409
    assert response.json["code"] == "enterprise_code_taken"
    assert list(response.json["errors"]["json"]) == ["customs_reg_code"]


def test_a_taken_customs_code_is_a_conflict_in_lower_case_too(client, session, admin_headers):
    make_enterprise(session, customs_reg_code="5002AB0001")

    response = register(client, admin_headers, customs_reg_code="5002ab0001")

    assert response.status_code == 409
    assert response.json["code"] == "enterprise_code_taken"


def test_a_refused_registration_adds_no_enterprise(client, session, admin_headers):
    existing = make_enterprise(session)
    payload = new_payload(customs_reg_code=existing.customs_reg_code)

    assert client.post(ADMIN_ENTERPRISES, json=payload, headers=admin_headers).status_code == 409

    assert list_ids(client, admin_headers, q=payload["uscc"]) == []


# Listing


def test_the_list_pages_through_every_enterprise_once_newest_first(client, session, admin_headers):
    created = [make_enterprise(session, name=f"Paging Fixture {n}").id for n in range(5)]
    pages, cursor = [], None

    while True:
        query = {"q": "paging fixture", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(ADMIN_ENTERPRISES, query_string=query, headers=admin_headers).json
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "next_cursor never became null"

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [item for page in pages for item in page] == sorted(created, reverse=True)


def test_the_list_answers_twenty_items_by_default(client, session, admin_headers):
    for _ in range(21):
        make_enterprise(session)

    body = client.get(ADMIN_ENTERPRISES, headers=admin_headers).json

    assert len(body["items"]) == 20
    assert body["next_cursor"] is not None


@pytest.mark.parametrize("limit", [0, 101, "many"])
def test_the_list_refuses_a_limit_out_of_range(client, admin_headers, limit):
    response = client.get(ADMIN_ENTERPRISES, query_string={"limit": limit}, headers=admin_headers)

    assert response.status_code == 422
    assert list(response.json["errors"]["query"]) == ["limit"]


def test_the_list_refuses_a_cursor_it_did_not_issue(client, admin_headers):
    response = client.get(ADMIN_ENTERPRISES, query_string={"cursor": "not-a-cursor"}, headers=admin_headers)

    assert response.status_code == 422
    assert list(response.json["errors"]["query"]) == ["cursor"]


def test_the_list_filters_by_kind(client, session, admin_headers):
    platform = make_enterprise(session, kinds=[EnterpriseKind.EBP, EnterpriseKind.EBC])
    broker = make_enterprise(session, kinds=[EnterpriseKind.AGENT])

    ids = list_ids(client, admin_headers, kind="ebp")

    assert platform.id in ids
    assert broker.id not in ids


def test_the_list_refuses_an_unknown_kind(client, admin_headers):
    response = client.get(ADMIN_ENTERPRISES, query_string={"kind": "smuggler"}, headers=admin_headers)

    assert response.status_code == 422
    assert list(response.json["errors"]["query"]) == ["kind"]


def test_q_matches_the_name_ignoring_case(client, session, admin_headers):
    match = make_enterprise(session, name="Liangjiang Cold Chain Logistics")
    other = make_enterprise(session, name="Xiyong Bonded Warehouse")

    ids = list_ids(client, admin_headers, q="cold CHAIN")

    assert ids == [match.id]
    assert other.id not in ids


@pytest.mark.parametrize("field", ["uscc", "customs_reg_code"])
def test_q_matches_a_code(client, session, admin_headers, field):
    match = make_enterprise(session, uscc=valid_uscc(9_876_543), customs_reg_code="5002QX7Z41")
    make_enterprise(session)
    fragment = {"uscc": "9876543", "customs_reg_code": "qx7z"}[field]

    assert list_ids(client, admin_headers, q=fragment) == [match.id]


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_q_treats_sql_wildcards_as_plain_characters(client, session, admin_headers, wildcard):
    literal = make_enterprise(session, name=f"Discount{wildcard}Imports")
    lookalike = make_enterprise(session, name="DiscountXImports")

    ids = list_ids(client, admin_headers, q=f"discount{wildcard}imports")

    assert literal.id in ids
    assert lookalike.id not in ids


@pytest.mark.parametrize("active", [True, False])
def test_the_list_filters_by_active(client, session, admin_headers, active):
    running = make_enterprise(session, is_active=True)
    closed = make_enterprise(session, is_active=False)

    ids = list_ids(client, admin_headers, active=str(active).lower())

    assert (running.id in ids, closed.id in ids) == (active, not active)


# Changing


def test_patch_changes_name_kinds_and_credit_level(client, session, admin_headers):
    enterprise = make_enterprise(session, kinds=[EnterpriseKind.AGENT])
    changes = {"name": "Renamed Brokerage", "kinds": ["agent", "logistics_enterprise"], "credit_level": "dishonest"}

    response = patch(client, admin_headers, enterprise.id, changes)

    assert response.status_code == 200
    reread = client.get(f"{ADMIN_ENTERPRISES}/{enterprise.id}", headers=admin_headers).json
    for body in (response.json, reread):
        assert body["name"] == "Renamed Brokerage"
        assert sorted(body["kinds"]) == ["agent", "logistics_enterprise"]
        assert body["credit_level"] == "dishonest"


def test_patch_can_drop_a_kind(client, session, admin_headers):
    enterprise = make_enterprise(session, kinds=[EnterpriseKind.EBC, EnterpriseKind.EBP])

    patch(client, admin_headers, enterprise.id, {"kinds": ["ebp"]})

    reread = client.get(f"{ADMIN_ENTERPRISES}/{enterprise.id}", headers=admin_headers).json
    assert reread["kinds"] == ["ebp"]


def test_patch_leaves_unsent_fields_alone(client, session, admin_headers):
    enterprise = make_enterprise(session, credit_level=CreditLevel.ADVANCED_CERTIFIED, general_taxpayer_pilot=True)

    body = patch(client, admin_headers, enterprise.id, {"name": "Only The Name"}).json

    assert body["credit_level"] == "advanced_certified"
    assert body["general_taxpayer_pilot"] is True
    assert body["customs_reg_code"] == enterprise.customs_reg_code


def test_an_empty_patch_is_refused(client, session, admin_headers):
    enterprise = make_enterprise(session)

    response = patch(client, admin_headers, enterprise.id, {})

    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert "json" in response.json["errors"]


def test_patch_cannot_change_the_uscc(client, session, admin_headers):
    enterprise = make_enterprise(session)

    response = patch(client, admin_headers, enterprise.id, {"uscc": valid_uscc(next(_serial))})

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["uscc"]


def test_patch_to_a_taken_customs_code_is_a_conflict(client, session, admin_headers):
    enterprise = make_enterprise(session)
    other = make_enterprise(session)

    response = patch(client, admin_headers, enterprise.id, {"customs_reg_code": other.customs_reg_code.lower()})

    assert response.status_code == 409
    assert response.json["code"] == "enterprise_code_taken"
    assert list(response.json["errors"]["json"]) == ["customs_reg_code"]


def test_patch_may_resend_the_enterprises_own_customs_code(client, session, admin_headers):
    enterprise = make_enterprise(session)

    response = patch(client, admin_headers, enterprise.id, {"customs_reg_code": enterprise.customs_reg_code})

    assert response.status_code == 200


@pytest.mark.parametrize("method", ["get", "patch"])
def test_a_missing_enterprise_is_a_404(client, session, admin_headers, method):
    gone = make_enterprise(session)
    gone_id = gone.id
    session.delete(gone)
    session.flush()

    response = getattr(client, method)(f"{ADMIN_ENTERPRISES}/{gone_id}", json={"name": "Ghost"}, headers=admin_headers)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_patch_active_false_deactivates(client, session, admin_headers):
    enterprise = make_enterprise(session)

    response = patch(client, admin_headers, enterprise.id, {"active": False})

    assert response.status_code == 200
    assert response.json["active"] is False


def test_users_of_a_deactivated_enterprise_cannot_sign_in(client, session, admin_headers):
    user = make_user(session, role=Role.DECLARANT)
    assert login(client, user.username).status_code == 200

    patch(client, admin_headers, user.enterprise_id, {"active": False})

    response = login(client, user.username)
    assert response.status_code == 401
    assert response.json["code"] == "invalid_credentials"


def test_live_tokens_of_a_deactivated_enterprises_users_stop_working(client, session, admin_headers, auth_headers):
    user = make_user(session, role=Role.WAREHOUSE_OPERATOR)
    headers = auth_headers(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    patch(client, admin_headers, user.enterprise_id, {"active": False})

    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "account_disabled"


def test_reactivating_an_enterprise_lets_its_users_sign_in_again(client, session, admin_headers):
    user = make_user(session, role=Role.DECLARANT)
    patch(client, admin_headers, user.enterprise_id, {"active": False})

    patch(client, admin_headers, user.enterprise_id, {"active": True})

    assert login(client, user.username).status_code == 200


def test_patch_is_written_to_the_audit_trail_with_from_and_to(client, session, admin, admin_headers):
    enterprise = make_enterprise(session, name="Before Trading", credit_level=CreditLevel.GENERAL)

    patch(client, admin_headers, enterprise.id, {"name": "After Trading", "credit_level": "advanced_certified"})

    response = client.get(
        "/api/v1/admin/audit-events", query_string={"action": "admin.enterprise_updated"}, headers=admin_headers
    )
    rows = [row for row in response.json["items"] if row["target_id"] == str(enterprise.id)]
    assert len(rows) == 1
    assert rows[0]["actor_id"] == admin.id
    assert rows[0]["target_type"] == "enterprises"
    assert rows[0]["details"] == {
        "name": {"from": "Before Trading", "to": "After Trading"},
        "credit_level": {"from": "general", "to": "advanced_certified"},
    }


def test_deactivation_is_written_to_the_audit_trail(client, session, admin_headers):
    enterprise = make_enterprise(session)

    patch(client, admin_headers, enterprise.id, {"active": False})

    rows = client.get(
        "/api/v1/admin/audit-events",
        query_string={"action": "admin.enterprise_updated", "target_id": str(enterprise.id)},
        headers=admin_headers,
    ).json["items"]
    assert [row["details"] for row in rows] == [{"active": {"from": True, "to": False}}]


def test_a_patch_that_changes_nothing_writes_no_audit_row(client, session, admin_headers):
    enterprise = make_enterprise(session, name="Steady Trading")

    assert patch(client, admin_headers, enterprise.id, {"name": "Steady Trading"}).status_code == 200

    rows = client.get(
        "/api/v1/admin/audit-events",
        query_string={"action": "admin.enterprise_updated", "target_id": str(enterprise.id)},
        headers=admin_headers,
    ).json["items"]
    assert rows == []


# Who sees what


def test_a_declarant_reads_their_own_enterprise(client, session, auth_headers):
    user = make_user(session, role=Role.DECLARANT)

    response = client.get(f"{ENTERPRISES}/{user.enterprise_id}", headers=auth_headers(user))

    assert response.status_code == 200
    assert response.json["id"] == user.enterprise_id
    assert response.json["uscc"] == user.enterprise.uscc


def test_another_enterprise_looks_exactly_like_a_missing_one(client, session, auth_headers):
    user = make_user(session, role=Role.DECLARANT)
    other = make_enterprise(session)
    gone = make_enterprise(session)
    gone_id = gone.id
    session.delete(gone)
    session.flush()
    headers = auth_headers(user)

    hidden = client.get(f"{ENTERPRISES}/{other.id}", headers=headers)
    missing = client.get(f"{ENTERPRISES}/{gone_id}", headers=headers)

    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["Content-Type"] == missing.headers["Content-Type"]

    def without_id(body, enterprise_id):
        return {
            key: str(value).replace(str(enterprise_id), "{id}") for key, value in body.items() if key != "request_id"
        }

    assert without_id(hidden.json, other.id) == without_id(missing.json, gone_id)


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.ADMIN])
def test_park_wide_roles_read_any_enterprise(client, session, auth_headers, role):
    viewer = make_user(session, role=role)
    enterprise = make_enterprise(session)

    response = client.get(f"{ENTERPRISES}/{enterprise.id}", headers=auth_headers(viewer))

    assert response.status_code == 200
    assert response.json["id"] == enterprise.id


def test_staff_without_an_enterprise_see_none(client, session, auth_headers):
    gate_operator = make_user(session, role=Role.GATE_OPERATOR)
    enterprise = make_enterprise(session)

    response = client.get(f"{ENTERPRISES}/{enterprise.id}", headers=auth_headers(gate_operator))

    assert response.status_code == 404


ADMIN_ROUTES = [
    pytest.param("get", "", None, id="list"),
    pytest.param("post", "", "create", id="create"),
    pytest.param("get", "/{id}", None, id="read"),
    pytest.param("patch", "/{id}", {"name": "Taken Over"}, id="patch"),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize("role", [Role.DECLARANT, Role.CUSTOMS_OFFICER])
def test_only_admins_may_use_the_admin_routes(client, session, auth_headers, role, method, suffix, body):
    user = make_user(session, role=role)
    target = make_enterprise(session)
    json = new_payload() if body == "create" else body

    response = getattr(client, method)(
        ADMIN_ENTERPRISES + suffix.format(id=target.id), json=json, headers=auth_headers(user)
    )

    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


@pytest.mark.parametrize(("method", "suffix", "body"), ADMIN_ROUTES)
def test_the_admin_routes_need_a_token(client, session, method, suffix, body):
    target = make_enterprise(session)
    json = new_payload() if body == "create" else body

    response = getattr(client, method)(ADMIN_ENTERPRISES + suffix.format(id=target.id), json=json)

    assert response.status_code == 401
    assert response.json["code"] == "authentication_required"


def test_the_scoped_read_needs_a_token(client, session):
    enterprise = make_enterprise(session)

    response = client.get(f"{ENTERPRISES}/{enterprise.id}")

    assert response.status_code == 401
    assert response.json["code"] == "authentication_required"
