"""The customs burst benchmark runs end to end in miniature on the suite's database server, and its plan sends what
customs sends (figures are not asserted against targets: only that the report is complete and consistent)."""

import json
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import make_url

from tests.databases import configured_url, is_postgres
from tests.live import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from bench_receipts_data import plan_burst


def plan(**overrides):
    settings = {
        "lists": 300,
        "enterprises": 7,
        "products": 12,
        "per_document": 25,
        "inspection_share": 0.1,
        "duplicate_share": 0.05,
        "late_share": 0.1,
        "release_gap": (2, 5),
        "seed": 5,
    }
    return plan_burst(**(settings | overrides))


def test_burst_plan_sends_every_lists_decisions_in_customs_time_order_across_documents():
    burst = plan()

    sent = [(n, receipt) for n, document in enumerate(burst.documents) for receipt in document]
    assert all(len(document) <= 25 for document in burst.documents)
    first = {}
    for number, receipt in sent:
        first.setdefault((receipt.list_index, receipt.status_code), number)
    inspected = {item.index for item in burst.lists if item.inspected}
    assert {i for (i, code) in first if code == 120} == {i for (i, code) in first if code == 800} == set(range(300))
    assert {i for (i, code) in first if code == 500} == inspected != set()
    # Each 800 comes documents after its list's 120; the lists' 120s interleave with other lists' 800s.
    assert all(first[(i, 800)] > first[(i, 120)] for i in range(300))
    assert any(receipt.status_code == 800 for _, receipt in sent[: len(sent) // 2])
    assert any(receipt.status_code == 120 for _, receipt in sent[len(sent) // 2 :])


def test_burst_plan_knows_each_answer_duplicates_and_late_arrivals_included():
    burst = plan()

    counts = burst.expected_counts()
    assert counts["duplicate"] > 0 and counts["stale"] > 0
    for document in burst.documents:
        for receipt in document:
            if receipt.status_code == 399:
                # Audited on customs' clock before the release, delivered after it: never applied.
                assert receipt.expected in ("stale", "duplicate")
            if receipt.expected != "applied" or receipt.status_code == 399:
                assert receipt.notifies is None
    assert set(burst.final_rank.values()) == {80}  # every list ends released
    # A document waits only for earlier documents that hold one of its lists.
    for number, waits in enumerate(burst.waits_for):
        lists = {receipt.list_index for receipt in burst.documents[number]}
        assert all(earlier < number for earlier in waits)
        assert all(lists & {r.list_index for r in burst.documents[earlier]} for earlier in waits)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        # scripts/bench_receipts.py's own burst, whose document 65 held a re-sent 500 that could overtake its list's
        # 120 in document 57 before this was kept.
        {
            "lists": 4000,
            "enterprises": 50,
            "products": 40,
            "per_document": 100,
            "inspection_share": 0.05,
            "duplicate_share": 0.03,
            "late_share": 0.02,
            "release_gap": (8, 24),
            "seed": 23,
        },
    ],
    ids=["miniature", "as-benchmarked"],
)
def test_a_copy_sent_again_never_overtakes_the_receipts_before_the_one_it_repeats(overrides):
    """Its document is sent only once the document with its list's previous receipt has been answered (directly or
    through the documents it waits for); the copy itself may be in flight beside its first delivery."""
    burst = plan(**overrides)
    previous_doc: dict[tuple, int | None] = {}
    last_doc: dict[int, int] = {}
    for number, document in enumerate(burst.documents):
        for receipt in document:
            if receipt.expected != "duplicate":
                previous_doc.setdefault(receipt.key, last_doc.get(receipt.list_index))
            elif (earlier := previous_doc.get(receipt.key)) is not None:
                assert _answered_before(burst.waits_for, earlier, number)
        for receipt in document:
            if receipt.expected != "duplicate":
                last_doc[receipt.list_index] = number


def _answered_before(waits_for: list[set[int]], earlier: int, number: int) -> bool:
    """Whether document `number` is sent only after `earlier` was answered (directly or through its waits)."""
    seen, todo = set(), [number]
    while todo:
        for waited in waits_for[todo.pop()] - seen:
            if waited == earlier:
                return True
            seen.add(waited)
            todo.append(waited)
    return False


def test_burst_plan_is_the_same_for_the_same_seed():
    assert [[(r.list_index, r.status_code) for r in d] for d in plan().documents] == [
        [(r.list_index, r.status_code) for r in d] for d in plan().documents
    ]


def test_receipt_burst_bench_applies_every_receipt_once_and_times_every_notice():
    args = ["--declarations", "40", "--enterprises", "3", "--declarants", "1", "--per-document", "10"]
    args += ["--inspections", "0.2", "--duplicates", "0.1", "--late", "0.2", "--release-gap", "1,3"]
    args += ["--connections", "2", "--workers", "1", "--settle", "10", "--json"]
    url = configured_url()
    if is_postgres(url):
        scratch = make_url(url).set(database=f"bench_receipts_smoke_{uuid.uuid4().hex[:12]}")
        args += ["--database-url", scratch.render_as_string(hide_password=False)]
    else:
        args += ["--database-url", "sqlite"]
    done = subprocess.run(
        [sys.executable, "scripts/bench_receipts.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    burst, planned = report["burst"], report["settings"]["planned"]
    assert burst["outcomes"] == planned["outcomes"] and burst["unexpected_outcomes"] == 0
    assert burst["status_codes"] == {"200": planned["documents"]}
    assert burst["receipts_answered"] == planned["receipts"] and burst["receipts_per_s"] > 0
    latency = burst["document_latency"]
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    notices = report["notices"]
    assert notices["missing"] == 0 and notices["count"] == notices["expected"] > 0 and notices["streams"] == 3
    assert 0 < notices["p50_ms"] <= notices["p95_ms"] <= notices["max_ms"]
    assert report["check"]["ok"], report["check"]
    assert report["check"]["inspection_tasks"]["tasks"] == planned["inspected_lists"]
    assert (report["database_waits"] is not None) == is_postgres(url)
    assert set(report["target"]) == {"receipts_per_s_at_least", "notice_p95_ms_at_most", "met"}
