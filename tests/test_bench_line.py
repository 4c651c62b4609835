"""The X-ray line benchmark's own parts, in miniature (no PostgreSQL, no gunicorn: a second or two).

The whole run (scripts/bench_line.py) needs PostgreSQL, gunicorn and wrk for minutes; what it adds to the shared
harness is the scan plan and the open-loop client, tested here.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.live import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from bench_line_data import Loaded, Shares, plan_scans, request_bytes
from bench_line_load import judge, open_loop

# No database at all: once, on the SQLite pass, is enough.
pytestmark = pytest.mark.own_database


def loaded(count=2000):
    waybills = [f"BL{index:013d}" for index in range(count)]
    standing = {waybill: ("targeted" if index % 50 == 0 else None) for index, waybill in enumerate(waybills)}
    return Loaded(api_key="k", warehouse_id=1, waybills=waybills, standing=standing, lists=20, targets=40)


def test_the_plan_scans_every_parcel_once_and_knows_each_answer():
    plan = plan_scans(loaded(), open_loop=500, single=500, shares=Shares(), seed=19)

    scans = plan.open_loop + plan.single + plan.batched
    known = [scan for scan in scans if not scan.waybill_no.startswith("NOSUCH")]
    assert sorted(scan.waybill_no for scan in known) == loaded().waybills
    assert len(plan.open_loop) == len(plan.single) == 500
    for scan in scans:
        if scan.waybill_no.startswith("NOSUCH"):
            assert scan.expect == ("divert", "unknown_waybill")
        elif scan.verdict == "suspect":
            assert scan.expect == ("divert", "machine")
        else:
            assert scan.expect == (("divert", "targeted") if int(scan.waybill_no[2:]) % 50 == 0 else ("pass", None))
    assert plan.counts["machine"] > 0 and plan.counts["unknown_waybill"] > 0
    again = plan_scans(loaded(), open_loop=500, single=500, shares=Shares(), seed=19)
    assert [scan.waybill_no for scan in again.batched] == [scan.waybill_no for scan in plan.batched]


class _Line(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        scan = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if scan["waybill_no"] == "SLOW":
            time.sleep(0.2)
        answer = json.dumps({"decision": "pass", "reason": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def line_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Line)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_open_loop_client_counts_each_latency_from_when_the_scan_was_due(line_server):
    waybills = ["A1", "SLOW", "A2", "A3", "A4"]
    requests = [request_bytes("/scan", json.dumps({"waybill_no": w}).encode(), host="x", api_key="k") for w in waybills]

    # One connection and no more, 100 a second: the three due while SLOW is answered wait for it, and it shows.
    run = open_loop("127.0.0.1", line_server, requests, rate=100, connections=1, max_connections=1)

    assert sorted(outcome.index for outcome in run.outcomes) == [0, 1, 2, 3, 4]
    latency = {waybills[o.index]: o.latency for o in run.outcomes}
    assert latency["SLOW"] >= 0.2
    assert latency["A2"] >= 0.2 - 0.01 - 0.005  # due 10 ms after SLOW, sent only when SLOW's answer came
    assert run.late_sends >= 3 and run.waited_for_connection >= 3 and not run.errors
    verdicts = judge(run, [("pass", None)] * 4 + [("divert", "machine")], lambda b: (b["decision"], b["reason"]))
    assert verdicts["statuses"] == {"200": 5} and verdicts["wrong"] == 1


def test_the_open_loop_client_opens_a_connection_rather_than_wait_for_one(line_server):
    waybills = ["A1", "SLOW", "A2", "A3", "A4"]
    requests = [request_bytes("/scan", json.dumps({"waybill_no": w}).encode(), host="x", api_key="k") for w in waybills]

    # One connection to start with: the scans due while SLOW is answered go on new ones, each when it is due.
    run = open_loop("127.0.0.1", line_server, requests, rate=100, connections=1)

    answered = [waybills[o.index] for o in run.outcomes]  # in the order the answers came
    assert answered.index("A2") < answered.index("SLOW")
    assert {o.index: o.latency for o in run.outcomes}[1] >= 0.2
    assert run.waited_for_connection == 0 and 1 <= run.connections_opened <= 4 and not run.errors


def test_a_buffering_controller_sends_each_window_as_one_batch_and_each_scan_counts_its_wait():
    from bench_line import per_scan, windows
    from bench_line_load import Outcome, Run

    # 500 scans a second, 10 ms windows: five scans a window, each batch sent as its window closes.
    groups, dues = windows(12, 500, 0.010)
    assert groups == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]
    assert dues == pytest.approx([0.010, 0.020, 0.030])
    # No window: a request per scan, due with it.
    assert windows(3, 500, 0) == ([[0], [1], [2]], [0.0, 0.002, 0.004])

    answers = [{"decision": "pass", "reason": None}] * 5
    run = Run(outcomes=[Outcome(0, 0.010, 0.004, 200, json.dumps({"answers": answers}).encode())])
    scans = per_scan(run, groups[:1], dues[:1], 500)

    # The first scan waited the whole window in the controller, the last none of it; the answer took 4 ms more.
    assert [round(latency, 4) for _, _, latency, _, _ in scans] == [0.014, 0.012, 0.010, 0.008, 0.006]
    assert all(status == 200 and answer == answers[0] for *_, status, answer in scans)
