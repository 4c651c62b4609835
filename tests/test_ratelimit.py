"""The in-process rate-limit counters behind memory:// (one process; Redis is tested in test_rate_limit_shared)."""

import pytest
from werkzeug.exceptions import TooManyRequests

from app.infra.ratelimit import RateLimiter, WindowCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_a_window_counts_until_it_ends_and_the_next_starts_from_zero(clock):
    counters = WindowCounters(clock=clock)
    counts = [counters.incr("client", 60) for _ in range(3)]
    clock.now += 59.9
    counts.append(counters.incr("client", 60))

    clock.now += 0.1

    assert counts == [1, 2, 3, 4]
    assert counters.get("client") == 0
    assert counters.incr("client", 60) == 1
    assert counters.get_expiry("client") == clock.now + 60


def test_ended_windows_of_clients_never_seen_again_are_swept(clock):
    counters = WindowCounters(clock=clock, sweep_seconds=10)
    for n in range(1000):
        counters.incr(f"198.51.{n // 256}.{n % 256}", 5)
    clock.now += 6
    counters.incr("still-here", 60)
    assert len(counters) == 1001  # nothing swept before its time

    clock.now += 4
    counters.incr("still-here", 60)

    assert len(counters) == 1
    assert counters.get("still-here") == 2


def test_the_limiter_refuses_past_the_budget_and_says_when_to_come_back():
    limiter = RateLimiter("memory://", key_prefix="test")
    limiter.spend("2 per minute", "login", "203.0.113.9")
    limiter.spend("2 per minute", "login", "203.0.113.9")
    limiter.spend("2 per minute", "login", "203.0.113.10")  # another client has its own budget

    with pytest.raises(TooManyRequests) as refused:
        limiter.spend("2 per minute", "login", "203.0.113.9")

    assert 1 <= refused.value.retry_after <= 60
