import pytest


@pytest.fixture(autouse=True)
def roomy_lookup_budgets(app, monkeypatch):
    """Public lookups from the test client all come from one address: budgets big enough that the many lookups of
    earlier tests in the same minute never answer a later test with 429 (the rate-limit tests set their own)."""
    monkeypatch.setitem(app.config, "TRACE_RATE_LIMIT", "100000 per minute")
    monkeypatch.setitem(app.config, "TRACE_UNKNOWN_RATE_LIMIT", "100000 per minute")
