import pytest

from tests.factories import make_gate


@pytest.fixture
def gate(session):
    return make_gate(session)
