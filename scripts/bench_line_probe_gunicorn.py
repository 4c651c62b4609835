"""The production gunicorn.conf.py, plus probes in each worker, for scripts/bench_line_probe.py (never production).

Per request (named by its X-Request-Id): when gunicorn had parsed it (pre_request), when the app began and ended it,
when the answer was written and logged (post_request), and whether it diverted. Per collection of the garbage
collector: when, its generation, its wall and CPU time (and at each full one, how many objects it walks). Per run of a
greenlet without a switch longer than 2 ms of wall clock or 1 ms of CPU: when, how long, which request's greenlet. All
times are time.monotonic(), the clock of the client's loop (the same machine). Each worker writes its record to
$LINE_PROBE_DIR/worker-<pid>.json when it exits.
"""

import gc as _gc
import json as _json
import os as _os
import time as _time
from pathlib import Path as _Path

_PRODUCTION = _Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
# The settings and hooks exactly as production has them; the probes wrap the hooks below.
exec(compile(_PRODUCTION.read_text(), str(_PRODUCTION), "exec"))

_production_post_worker_init = post_worker_init  # noqa: F821  (defined by the exec above)
_production_post_request = post_request  # noqa: F821
_RECORD = {"requests": {}, "gc": [], "runs": [], "full_collections": []}
_PARSED: dict[str, float] = {}


def post_worker_init(worker):
    _production_post_worker_init(worker)
    import greenlet

    serving: dict = {}  # greenlet -> the request id it serves
    last = [_time.monotonic(), _time.thread_time()]

    def on_switch(event, args):
        if event in ("switch", "throw"):
            origin = args[0]
            wall, cpu = _time.monotonic(), _time.thread_time()
            ran, used = wall - last[0], cpu - last[1]
            last[0], last[1] = wall, cpu
            if ran > 0.002 or used > 0.001:
                _RECORD["runs"].append((wall - ran, ran, used, serving.get(origin), type(origin).__name__))

    greenlet.settrace(on_switch)
    started: list[float] = []

    def on_collection(phase, info):
        if phase == "start":
            if info["generation"] == 2:
                _RECORD["full_collections"].append((_time.monotonic(), len(_gc.get_objects(2))))
            started[:] = [_time.monotonic(), _time.thread_time()]
        elif started:
            wall, cpu = _time.monotonic() - started[0], _time.thread_time() - started[1]
            _RECORD["gc"].append((started[0], wall, cpu, info["generation"]))

    _gc.callbacks.append(on_collection)
    app = worker.wsgi

    def probed(environ, start_response):
        request_id = environ.get("HTTP_X_REQUEST_ID", "")
        began = _time.monotonic()
        serving[greenlet.getcurrent()] = request_id
        body = list(app(environ, start_response))
        ended = _time.monotonic()
        serving.pop(greenlet.getcurrent(), None)
        diverted = any(b'"divert"' in chunk for chunk in body)
        _RECORD["requests"][request_id] = (_PARSED.pop(request_id, None), began, ended, None, diverted)
        return body

    worker.wsgi = probed


def pre_request(worker, req):
    for name, value in req.headers:
        if name == "X-REQUEST-ID":
            _PARSED[value] = _time.monotonic()


def post_request(worker, req, environ, resp):
    request_id = environ.get("HTTP_X_REQUEST_ID", "")
    record = _RECORD["requests"].get(request_id)
    if record is not None:
        _RECORD["requests"][request_id] = (*record[:3], _time.monotonic(), record[4])
    _production_post_request(worker, req, environ, resp)


def worker_exit(server, worker):
    directory = _Path(_os.environ["LINE_PROBE_DIR"])
    (directory / f"worker-{_os.getpid()}.json").write_text(_json.dumps(_RECORD))
