"""A database that cannot answer for a moment is a 503 with Retry-After, never a 500."""

import pytest
from sqlalchemy import create_engine, text

from tests.databases import is_postgres

LOGIN = {"username": "someone", "password": "not-the-password"}


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_database_that_cannot_be_reached_is_a_503(app, client, tmp_path):
    url = app.extensions["engine"].url
    unreachable = (
        url.set(host="127.0.0.1", port=1)
        if url.get_backend_name() == "postgresql"
        else f"sqlite:///{tmp_path}/no/such.db"
    )
    broken = create_engine(unreachable, connect_args={"connect_timeout": 2} if is_postgres(str(url)) else {})
    app.extensions["sessionmaker"].configure(bind=broken)  # db_connection puts the real one back
    try:
        response = client.post("/api/v1/auth/login", json=LOGIN)
    finally:
        broken.dispose()

    assert_unavailable(response)


# SQLite's write lock held past the wait is tests/test_db.py's 503 database_busy.


@pytest.mark.postgres_only
def test_a_connection_the_server_ended_is_replaced_before_the_next_request_uses_it(racing_app):
    client = racing_app.test_client()
    assert client.post("/api/v1/auth/login", json=LOGIN).status_code == 401  # a pooled connection now exists
    admin = create_engine(racing_app.extensions["engine"].url)
    with admin.connect() as connection:
        ended = connection.execute(
            text(
                # With a timeout the call waits until the backend has exited: a signal alone may still be on its
                # way when the next request checks the connection out, and the query after the check then meets it.
                "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    admin.dispose()

    after = client.post("/api/v1/auth/login", json=LOGIN)

    # The pool sees the server's goodbye at checkout and connects afresh: no 500, not even a 503. Requests in
    # flight at the cut are tests/faults/test_connections_cut.py's.
    assert ended >= 1
    assert after.status_code == 401
