from datetime import timedelta

from sqlalchemy import func, select

from app.auth import service as auth
from app.auth.models import AuthSession, RefreshToken
from app.auth.tokens import hash_refresh_token
from app.common import clock
from app.enterprises.models import Enterprise
from app.users.models import Role, User
from tests.factories import make_user


def test_seed_demo_creates_the_demo_logins_once(app, session):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])

    assert first.exit_code == second.exit_code == 0, first.output
    users = {user.username: user for user in session.scalars(select(User))}
    expected = {"admin", "declarant", "declarant2", "warehouse", "officer", "gate", "gateway"}
    assert expected <= users.keys()
    assert users["gateway"].role is Role.CUSTOMS_GATEWAY
    assert users["declarant"].enterprise_id != users["declarant2"].enterprise_id
    assert "already there" in second.output
    assert session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.name.like("%报关%"))) == 2


def test_seed_demo_logins_work_with_the_printed_password(app, client):
    output = app.test_cli_runner().invoke(args=["seed-demo"]).output
    password = next(
        line.split("password: ")[1] for line in output.splitlines() if line.strip().startswith("declarant ")
    )

    response = client.post("/api/v1/auth/login", json={"username": "declarant", "password": password.strip()})

    assert response.status_code == 200


def test_seed_demo_prints_a_trace_url_the_local_server_answers_on_its_port(app, client, monkeypatch):
    monkeypatch.setenv("PORT", "8131")
    output = app.test_cli_runner().invoke(args=["seed-demo"]).output
    url = next(line.split()[0] for line in output.splitlines() if "http://127.0.0.1:" in line)

    assert url.startswith("http://127.0.0.1:8131/01/")
    response = client.get(url.removeprefix("http://127.0.0.1:8131"), headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert response.get_json()["verdict"] == "genuine"


def test_create_admin_makes_an_admin_who_can_sign_in(app, client):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "Root.Admin"], input="root-password-1\nroot-password-1\n"
    )

    assert result.exit_code == 0, result.output
    login = client.post("/api/v1/auth/login", json={"username": "root.admin", "password": "root-password-1"})
    assert login.status_code == 200


def test_create_admin_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "root2"], input="root2\nroot2\n")

    assert result.exit_code != 0
    assert "policy" in result.output


def test_purge_tokens_removes_only_expired_refresh_tokens(app, session, settings, monkeypatch):
    user = make_user(session)
    auth.open_session(session, user, client_addr=None, user_agent=None, settings=settings)
    later = clock.utcnow() + settings.refresh_token_ttl + timedelta(minutes=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    fresh = auth.open_session(session, user, client_addr=None, user_agent=None, settings=settings)

    result = app.test_cli_runner().invoke(args=["auth", "purge-tokens"])

    assert result.exit_code == 0, result.output
    assert "Purged 1 " in result.output
    remaining = session.scalars(
        select(RefreshToken.token_hash).join(AuthSession).where(AuthSession.user_id == user.id)
    ).all()
    assert remaining == [hash_refresh_token(fresh.refresh_token)]
