import pytest
from sqlalchemy.exc import OperationalError

from app.health import routes as health_routes


class UnreachableDatabase:
    """A session whose every query fails the way a dropped connection does."""

    def execute(self, *args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection to 10.0.0.5:5432 refused"))


@pytest.fixture
def database_down(monkeypatch):
    monkeypatch.setattr(health_routes.db, "session", UnreachableDatabase)


def test_healthz_answers_ok_without_a_token(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


@pytest.mark.usefixtures("database_down")
def test_healthz_does_not_depend_on_the_database(client):
    # Liveness failing with the database would make the process manager restart healthy workers.
    assert client.get("/healthz").status_code == 200


def test_readyz_answers_ready_when_the_database_answers(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json["status"] == "ready"


@pytest.mark.usefixtures("database_down")
def test_readyz_is_a_503_problem_when_the_database_fails(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["code"] == "service_unavailable"
    assert body["status"] == 503
    assert body["instance"] == "/readyz"
    assert {"type", "title", "detail"} <= body.keys()


@pytest.mark.usefixtures("database_down")
def test_readyz_does_not_leak_the_driver_error(client):
    text = client.get("/readyz").get_data(as_text=True)

    assert "10.0.0.5" not in text
    assert "refused" not in text
