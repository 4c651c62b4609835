import pytest

from tests.push.helpers import FakeClock


@pytest.fixture
def clock():
    """The adapters' token caches read time from this, so tests can move past expiry."""
    return FakeClock()
