"""Customs' decisions sent open-loop, and the ledger of what every stream is owed and what it heard.

Each receipt document is due at a fixed time (``--per-document`` receipts every ``--per-document / --rate``
seconds); its POST starts then, whatever the earlier ones are doing, so a slow server cannot hide its queue.
Before the POST, every stream of the declaring enterprise is told to expect each notice the document will
cause (120 and 800); a notice's latency runs from the document's due time to its event on that stream. Whatever
is still expected when the run settles is missing, and counts as a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
from bench_scratch import spread_ms
from bench_stream_plan import PlannedReceipt, Setup
from bench_stream_sse import EventStream

# How long after the last answer the streams may take to deliver what they still owe.
SETTLE_SECONDS = 10.0


class Ledger:
    """Every notice each stream is owed, when it was due, and when it came."""

    def __init__(self) -> None:
        self.streams: list[EventStream] = []
        self._by_enterprise: dict[int, list[EventStream]] = defaultdict(list)
        # Notices due before this moment are the warm-up: delivered and checked, but not in the figures.
        self.measured_from = float("inf")
        # (due, arrived) of every notice owed and heard; a document is known by its due time.
        self.arrivals: list[tuple[float, float]] = []
        self.answered_at: dict[float, float] = {}
        self.sent_late: list[float] = []
        self.duplicates = 0
        self.unexpected = 0
        self.not_applied = 0
        self.stale = 0
        self.owed = 0
        self.errors: list[str] = []

    def add_streams(self, streams: list[EventStream]) -> None:
        self.streams += streams
        for stream in streams:
            self._by_enterprise[stream.enterprise_id].append(stream)

    def on_notice(self, stream: EventStream, data: dict, arrived: float) -> None:
        key = (data.get("declaration_id"), data.get("kind"))
        due = stream.waiting.pop(key, None)
        if due is None:
            if key in stream.seen:
                self.duplicates += 1
            else:
                self.unexpected += 1
            return
        stream.seen.add(key)
        self.arrivals.append((due, arrived))

    def expect(self, document: list[PlannedReceipt], due: float) -> None:
        for receipt in document:
            if receipt.key is not None:
                for stream in self._by_enterprise[receipt.enterprise_id]:
                    stream.waiting[receipt.key] = due
                    self.owed += 1

    def refused(self, receipt: PlannedReceipt, outcome: str) -> None:
        """A receipt the service did not apply: no notice will come, and that is an error, not a lost event.

        Except `stale`: a later step of the same declaration overtook it (two documents in flight at once), and
        customs' own late arrivals get the same answer. It is counted, not failed."""
        if outcome == "stale":
            self.stale += 1
        else:
            self.not_applied += 1
            if len(self.errors) < 5:
                self.errors.append(outcome)
        if receipt.key is not None:
            for stream in self._by_enterprise[receipt.enterprise_id]:
                self.owed -= stream.waiting.pop(receipt.key, None) is not None

    @property
    def missing(self) -> int:
        return sum(len(stream.waiting) for stream in self.streams)


async def post_document(
    client: httpx.AsyncClient, token: str, document: list[PlannedReceipt], due: float, ledger: Ledger
) -> None:
    ledger.sent_late.append(time.perf_counter() - due)
    ledger.expect(document, due)
    sent_at = datetime.now(UTC)
    # Later receipts must not look older on customs' clock; within a document, one millisecond apart.
    body = {"receipts": [receipt.body(sent_at + timedelta(milliseconds=n)) for n, receipt in enumerate(document)]}
    try:
        response = await client.post(
            "/api/v1/customs/receipts", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        ledger.answered_at[due] = time.perf_counter()
    except httpx.HTTPError as error:
        outcomes = [f"{type(error).__name__}: {error}"] * len(document)
    else:
        if response.status_code == 200:
            outcomes = [result["outcome"] for result in response.json()["results"]]
        else:
            outcomes = [f"HTTP {response.status_code}: {response.text[:300]}"] * len(document)
    for receipt, outcome in zip(document, outcomes, strict=True):
        if outcome != "applied":
            ledger.refused(receipt, outcome)


async def decide(client: httpx.AsyncClient, setup: Setup, ledger: Ledger, *, interval: float, warmup: float) -> dict:
    """Post every document open-loop, one each `interval` seconds, then wait for the streams to catch up."""
    start = time.perf_counter()
    ledger.measured_from = start + warmup
    posts = []
    for n, document in enumerate(setup.documents):
        due = start + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        posts.append(asyncio.create_task(post_document(client, setup.gateway_token, document, due, ledger)))
    await asyncio.gather(*posts)
    posted_in = time.perf_counter() - start
    deadline = time.perf_counter() + SETTLE_SECONDS
    while ledger.missing and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    return figures(ledger, setup, posted_in)


def figures(ledger: Ledger, setup: Setup, posted_in: float) -> dict:
    receipts = sum(len(document) for document in setup.documents)
    measured = [(due, arrived) for due, arrived in ledger.arrivals if due >= ledger.measured_from]
    answered = ledger.answered_at
    return {
        "documents": len(setup.documents),
        "receipts": receipts,
        "receipts_per_s": round(receipts / posted_in, 1) if posted_in else None,
        "posted_in_s": round(posted_in, 2),
        "not_applied": ledger.not_applied,
        "stale": ledger.stale,
        "first_errors": ledger.errors,
        # Decision to event on the declarant's stream, every notice on every stream after the warm-up.
        "latency": spread_ms([arrived - due for due, arrived in measured]),
        "warmup_notices": len(ledger.arrivals) - len(measured),
        "notices_owed": ledger.owed,
        "missing": ledger.missing,
        "streams_missing_notices": sum(1 for stream in ledger.streams if stream.waiting),
        "duplicates": ledger.duplicates,
        "unexpected": ledger.unexpected,
        # Due time to answer: how much of the latency is the receipt document itself; and the rest, from the
        # document's answer to each of its events (below zero when the event beats the answer to the client).
        "document_post": spread_ms([at - due for due, at in answered.items() if due >= ledger.measured_from]),
        "event_after_answer": spread_ms([arrived - answered[due] for due, arrived in measured if due in answered]),
        "client_sent_late_ms_max": round(max(ledger.sent_late, default=0) * 1000, 3),
    }
