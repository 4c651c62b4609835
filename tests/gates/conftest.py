import pytest

from app.users.models import Role
from tests.factories import make_gate, make_user


@pytest.fixture
def declarant(session):
    return make_user(session, role=Role.DECLARANT)


@pytest.fixture
def officer(session):
    return make_user(session, role=Role.CUSTOMS_OFFICER)


@pytest.fixture
def gate_operator(session):
    return make_user(session, role=Role.GATE_OPERATOR)


@pytest.fixture
def admin(session):
    return make_user(session, role=Role.ADMIN)


@pytest.fixture
def gate(session):
    return make_gate(session)
