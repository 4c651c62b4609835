import pytest

from app.enterprises.models import EnterpriseKind
from app.users.models import Role, User
from tests.factories import PASSWORD, make_enterprise, make_user

USERS = "/api/v1/admin/users"


@pytest.fixture
def as_admin(admin, auth_headers):
    return auth_headers(admin)


def new_user_body(**overrides):
    body = {"username": "new.declarant", "display_name": "新报关员", "role": "declarant", "password": "a-long-password"}
    body.update(overrides)
    return body


def test_admin_creates_a_declarant_of_a_broker(client, session, as_admin):
    broker = make_enterprise(session, kinds=[EnterpriseKind.AGENT])

    response = client.post(USERS, json=new_user_body(enterprise_id=broker.id, phone="13800138000"), headers=as_admin)

    assert response.status_code == 201
    body = response.json
    assert body["username"] == "new.declarant"
    assert body["enterprise"] == {"id": broker.id, "name": broker.name}
    assert body["must_change_password"] is True
    assert body["active"] is True
    assert "password" not in body and "password_hash" not in body


def test_new_user_must_change_the_password_before_using_the_api(client, session, as_admin):
    broker = make_enterprise(session)
    client.post(USERS, json=new_user_body(enterprise_id=broker.id), headers=as_admin)
    login = client.post("/api/v1/auth/login", json={"username": "new.declarant", "password": "a-long-password"}).json
    headers = {"Authorization": f"Bearer {login['access_token']}"}

    blocked = client.get(f"/api/v1/enterprises/{broker.id}", headers=headers)
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": "a-long-password", "new_password": "another-long-password"},
        headers=headers,
    )

    assert login["password_change_required"] is True
    assert blocked.status_code == 403
    assert blocked.json["code"] == "password_change_required"
    assert changed.status_code == 204
    assert client.get(f"/api/v1/enterprises/{broker.id}", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("role", "kinds", "field_error"),
    [
        ("declarant", None, "Required for this role."),
        ("declarant", [EnterpriseKind.ZONE], "Not an active agent enterprise."),
        ("warehouse_operator", [EnterpriseKind.AGENT], "Not an active zone_enterprise enterprise."),
        ("customs_officer", [EnterpriseKind.AGENT], "Must be empty for this role."),
    ],
)
def test_the_enterprise_must_fit_the_role(client, session, as_admin, role, kinds, field_error):
    enterprise_id = make_enterprise(session, kinds=kinds).id if kinds else None

    response = client.post(USERS, json=new_user_body(role=role, enterprise_id=enterprise_id), headers=as_admin)

    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"enterprise_id": [field_error]}}


def test_an_unknown_enterprise_is_a_field_error(client, as_admin):
    response = client.post(USERS, json=new_user_body(enterprise_id=999_999_999), headers=as_admin)

    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"enterprise_id": ["No such enterprise."]}}


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "Use at least 10 characters."), ("new.declarant", "The password must not be the username.")],
)
def test_weak_passwords_are_refused(client, as_admin, password, message):
    response = client.post(USERS, json=new_user_body(role="customs_officer", password=password), headers=as_admin)

    assert response.status_code == 422
    assert message in response.json["errors"]["json"]["password"]


def test_usernames_are_unique_whatever_the_case(client, session, as_admin):
    make_user(session, role=Role.CUSTOMS_OFFICER, username="officer.wang")

    response = client.post(USERS, json=new_user_body(role="customs_officer", username="Officer.Wang"), headers=as_admin)

    assert response.status_code == 409
    assert response.json["code"] == "username_taken"


def test_bad_fields_are_reported_together(client, as_admin):
    response = client.post(
        USERS,
        json={"username": "x", "display_name": "", "role": "pilot", "phone": "12345", "password": "a-long-password"},
        headers=as_admin,
    )

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"username", "display_name", "role", "phone"}


def test_list_pages_through_all_users_without_repeats(client, session, admin, as_admin):
    for _ in range(5):
        make_user(session, role=Role.GATE_OPERATOR)

    seen, cursor = [], None
    while True:
        query = {"limit": 2, "role": "gate_operator"} | ({"cursor": cursor} if cursor else {})
        page = client.get(USERS, query_string=query, headers=as_admin).json
        seen.extend(user["id"] for user in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)


def test_list_filters_by_enterprise_and_text(client, session, as_admin):
    broker = make_enterprise(session)
    wanted = make_user(session, enterprise=broker, display_name="刘晓明")
    make_user(session, enterprise=broker, display_name="陈一")
    make_user(session, display_name="刘晓明")

    response = client.get(USERS, query_string={"enterprise_id": broker.id, "q": "晓明"}, headers=as_admin)

    assert [user["id"] for user in response.json["items"]] == [wanted.id]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"role": "pilot"}, {"cursor": "garbage!"}])
def test_bad_list_queries_are_422(client, as_admin, query):
    response = client.get(USERS, query_string=query, headers=as_admin)

    assert response.status_code == 422
    assert set(response.json["errors"]["query"]) == set(query)


def test_admin_changes_a_users_role_and_enterprise(client, session, as_admin):
    user = make_user(session, role=Role.DECLARANT)
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])

    response = client.patch(
        f"{USERS}/{user.id}", json={"role": "warehouse_operator", "enterprise_id": warehouse.id}, headers=as_admin
    )

    assert response.status_code == 200
    assert response.json["role"] == "warehouse_operator"
    assert response.json["enterprise"]["id"] == warehouse.id


def test_a_role_change_takes_effect_on_the_live_token(client, session, as_admin, auth_headers):
    user = make_user(session, role=Role.CUSTOMS_OFFICER)
    headers = auth_headers(user)
    assert client.get(USERS, headers=headers).status_code == 403

    client.patch(f"{USERS}/{user.id}", json={"role": "admin"}, headers=as_admin)

    assert client.get(USERS, headers=headers).status_code == 200


def test_deactivating_keeps_the_user_but_ends_their_sessions(client, session, as_admin, auth_headers):
    user = make_user(session)
    headers = auth_headers(user)

    response = client.patch(f"{USERS}/{user.id}", json={"active": False}, headers=as_admin)

    assert response.status_code == 200
    assert response.json["active"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get(f"{USERS}/{user.id}", headers=as_admin).json["username"] == user.username
    assert session.get(User, user.id) is not None


def test_reactivation_does_not_revive_old_sessions(client, session, as_admin, auth_headers):
    user = make_user(session)
    headers = auth_headers(user)
    client.patch(f"{USERS}/{user.id}", json={"active": False}, headers=as_admin)

    client.patch(f"{USERS}/{user.id}", json={"active": True}, headers=as_admin)

    assert client.get("/api/v1/me", headers=headers).json["code"] == "session_revoked"
    login = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 200


def test_lock_and_unlock(client, session, as_admin):
    user = make_user(session)

    locked = client.patch(f"{USERS}/{user.id}", json={"locked": True}, headers=as_admin)
    refused = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    unlocked = client.patch(f"{USERS}/{user.id}", json={"locked": False}, headers=as_admin)
    accepted = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})

    assert locked.json["locked"] is True
    assert refused.status_code == 401
    assert unlocked.json["locked"] is False
    assert accepted.status_code == 200


@pytest.mark.parametrize("change", [{"role": "customs_officer"}, {"active": False}, {"locked": True}])
def test_the_last_active_admin_stays_an_admin(client, session, admin, as_admin, change):
    response = client.patch(f"{USERS}/{admin.id}", json=change, headers=as_admin)

    assert response.status_code == 409
    assert response.json["code"] == "last_admin"
    session.refresh(admin)
    assert admin.role is Role.ADMIN and admin.is_active and not admin.is_locked


def test_an_admin_can_step_down_when_another_admin_exists(client, session, admin, as_admin):
    make_user(session, role=Role.ADMIN)

    response = client.patch(f"{USERS}/{admin.id}", json={"role": "customs_officer"}, headers=as_admin)

    assert response.status_code == 200


def test_an_empty_patch_is_refused(client, session, as_admin):
    user = make_user(session)

    response = client.patch(f"{USERS}/{user.id}", json={}, headers=as_admin)

    assert response.status_code == 422


def test_unknown_users_are_404(client, as_admin):
    assert client.get(f"{USERS}/999999999", headers=as_admin).json["code"] == "not_found"
    assert client.patch(f"{USERS}/999999999", json={"active": False}, headers=as_admin).status_code == 404


def test_password_reset_returns_a_temporary_password_once_and_ends_sessions(client, session, as_admin, auth_headers):
    user = make_user(session)
    headers = auth_headers(user)

    response = client.post(f"{USERS}/{user.id}/password-reset", json={}, headers=as_admin)

    assert response.status_code == 200
    temporary = response.json["temporary_password"]
    assert response.json["user"]["must_change_password"] is True
    assert client.get("/api/v1/me", headers=headers).json["code"] == "session_revoked"
    assert client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}).status_code == 401
    login = client.post("/api/v1/auth/login", json={"username": user.username, "password": temporary})
    assert login.json["password_change_required"] is True


def test_password_reset_with_a_chosen_password_follows_the_policy(client, session, as_admin):
    user = make_user(session)

    response = client.post(f"{USERS}/{user.id}/password-reset", json={"temporary_password": "short"}, headers=as_admin)

    assert response.status_code == 422
    assert "temporary_password" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", USERS),
        ("post", USERS),
        ("get", f"{USERS}/1"),
        ("patch", f"{USERS}/1"),
        ("post", f"{USERS}/1/password-reset"),
    ],
)
@pytest.mark.parametrize("role", [Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY])
def test_only_admins_reach_user_management(client, session, auth_headers, method, path, role):
    headers = auth_headers(make_user(session, role=role))

    response = getattr(client, method)(path, json={"active": False}, headers=headers)

    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


def test_admin_actions_are_audited(client, session, admin, as_admin):
    user = make_user(session)

    client.patch(f"{USERS}/{user.id}", json={"locked": True, "display_name": "改名"}, headers=as_admin)

    events = client.get(
        "/api/v1/admin/audit-events", query_string={"action": "admin.user_updated"}, headers=as_admin
    ).json["items"]
    assert len(events) == 1
    assert events[0]["actor_id"] == admin.id
    assert events[0]["target_id"] == str(user.id)
    assert events[0]["details"]["locked"] == {"from": False, "to": True}
    assert events[0]["details"]["display_name"]["to"] == "改名"
