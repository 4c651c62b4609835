import json
import os
import subprocess
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import func, select

from app.auth import service as auth
from app.auth import tokens
from app.auth.models import AuthSession, RefreshToken
from app.auth.tokens import hash_refresh_token
from app.cli import alembic_config
from app.common import clock
from app.config import Settings, SettingsError
from app.enterprises.models import Enterprise
from app.users.models import Role, User
from tests.databases import configured_url, scratch_database
from tests.factories import make_user
from tests.live import BIN, ROOT


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


# Operating commands on a server whose environment holds no JWT_SECRET: only what serves HTTP needs it.
@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    directory = tmp_path_factory.mktemp("offline-cli")
    with scratch_database(configured_url(), directory) as url:
        command.upgrade(alembic_config(url), "head")
        env = {key: value for key, value in os.environ.items() if key != "JWT_SECRET"}
        yield {**env, "DATABASE_URL": url, "FLASK_APP": "wsgi", "LOG_FORMAT": "text"}


def run_cli(env, *args, timeout=120):
    return subprocess.run([*args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "args",
    [["db", "current"], ["db", "check"], ["audit", "verify"], ["notices", "purge"], ["routes"]],
    ids=" ".join,
)
def test_offline_commands_run_without_jwt_secret(offline_env, args):
    done = run_cli(offline_env, BIN / "flask", *args)

    assert done.returncode == 0, done.stdout + done.stderr


def test_openapi_write_runs_without_jwt_secret_and_writes_the_committed_document(offline_env, tmp_path):
    written = tmp_path / "openapi.json"

    done = run_cli(offline_env, BIN / "flask", "openapi", "write", str(written))

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(written.read_text()) == json.loads((ROOT / "openapi" / "openapi.json").read_text())


def test_flask_run_refuses_to_serve_without_jwt_secret(offline_env):
    done = run_cli(offline_env, BIN / "flask", "run", "--port", "1")

    assert done.returncode != 0
    assert "JWT_SECRET must be set" in done.stderr


def test_the_web_server_refuses_to_start_without_jwt_secret(offline_env):
    # --check-config loads wsgi:app as a worker would, and exits.
    done = run_cli(offline_env, BIN / "gunicorn", "--check-config", "-c", "gunicorn.conf.py", "wsgi:app")

    assert done.returncode != 0
    assert "JWT_SECRET must be set" in done.stdout + done.stderr


def test_a_short_jwt_secret_stops_even_an_offline_command(offline_env):
    done = run_cli({**offline_env, "JWT_SECRET": "too-short"}, BIN / "flask", "db", "current")

    assert done.returncode != 0
    assert "JWT_SECRET must be set" in done.stderr


def test_without_jwt_secret_tokens_are_neither_issued_nor_checked(settings):
    offline = replace(settings, jwt_secret=None)

    with pytest.raises(SettingsError, match="JWT_SECRET"):
        tokens.encode_access_token(
            offline, user_id=1, session_id=uuid.uuid4(), role="declarant", enterprise_id=None, now=clock.utcnow()
        )
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        tokens.decode_access_token(offline, "a.b.c")


def test_settings_without_jwt_secret_are_refused_unless_asked_for():
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        Settings.from_env({})

    assert Settings.from_env({}, require_jwt_secret=False).jwt_secret is None
