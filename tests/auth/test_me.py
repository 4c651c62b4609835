from tests.factories import PASSWORD, make_user

ME = "/api/v1/me"


def change(client, headers, current, new):
    return client.post(f"{ME}/password", json={"current_password": current, "new_password": new}, headers=headers)


def test_me_shows_the_profile_and_enterprise(client, session, auth_headers):
    user = make_user(session, phone="13900001111")

    body = client.get(ME, headers=auth_headers(user)).json

    assert body["username"] == user.username
    assert body["role"] == "declarant"
    assert body["phone"] == "13900001111"
    assert body["enterprise"]["name"] == user.enterprise.name


def test_changing_the_password_needs_the_current_one(client, session, auth_headers):
    user = make_user(session)

    response = change(client, auth_headers(user), "wrong-current", "a-brand-new-password")

    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"current_password": ["Does not match."]}}


def test_the_new_password_follows_the_policy(client, session, auth_headers):
    user = make_user(session)

    too_short = change(client, auth_headers(user), PASSWORD, "short")
    same = change(client, auth_headers(user), PASSWORD, PASSWORD)

    assert too_short.status_code == same.status_code == 422
    assert "new_password" in too_short.json["errors"]["json"]
    assert same.json["errors"]["json"]["new_password"] == ["Same as the current password."]


def test_a_password_change_ends_other_sign_ins_but_keeps_this_one(client, session, auth_headers):
    user = make_user(session)
    this_device, other_device = auth_headers(user), auth_headers(user)

    assert change(client, this_device, PASSWORD, "a-brand-new-password").status_code == 204

    assert client.get(ME, headers=this_device).status_code == 200
    assert client.get(ME, headers=other_device).json["code"] == "session_revoked"
    old = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    new = client.post("/api/v1/auth/login", json={"username": user.username, "password": "a-brand-new-password"})
    assert (old.status_code, new.status_code) == (401, 200)


def test_a_user_cannot_give_themselves_another_role_or_enterprise(client, session, auth_headers):
    user = make_user(session)

    response = client.patch(
        ME, json={"display_name": "新名字", "role": "admin", "enterprise_id": 1}, headers=auth_headers(user)
    )

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"role", "enterprise_id"}
    assert client.get(ME, headers=auth_headers(user)).json["role"] == "declarant"
