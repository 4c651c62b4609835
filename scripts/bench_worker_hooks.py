"""gunicorn config for ``bench_worker_instructions.py``: the production config plus callgrind triggers.

Everything of ``gunicorn.conf.py`` (or the file ``BENCH_BASE_CONFIG`` names) applies unchanged; three request paths
drive callgrind in the worker, through the small C library the harness builds (``BENCH_CALLGRIND_LIB``):

- ``/__callgrind/start``: instrumentation on, after that request (the worker runs under ``--instr-atstart=no``);
- ``/__callgrind/zero``: counters zeroed, after that request;
- ``/__callgrind/dump/<label>``: counters dumped, before that request is handled.

The trace-scan writer's linger is stretched to a day and the scans queued are written at the dump, 500 to a batch, as
``bench_instructions.py`` does: under callgrind a request takes fifty times as long, so the writer's 0.2 s of clock
would write batches of a few scans, each with its fixed cost.

Variants for attribution (environment variables, each off unless set): ``BENCH_NO_ACCESS_LOG`` (no access log),
``BENCH_NO_YIELD`` (post_request without its ``gevent.sleep(0)``: under callgrind a keep-alive client then starves
gunicorn's heartbeat and the worker is killed, so it is no use here), ``BENCH_LIVE_LINGER`` (the writer's own linger),
``BENCH_NO_MULTIPROCESS_METRICS`` (prometheus-client's in-memory values, as in-process, instead of its mmap files).
"""

import ctypes
import os
import runpy

_base = runpy.run_path(os.environ.get("BENCH_BASE_CONFIG", "gunicorn.conf.py"))
globals().update({name: value for name, value in _base.items() if not name.startswith("__")})

_callgrind = ctypes.CDLL(os.environ["BENCH_CALLGRIND_LIB"])
_callgrind.dump.argtypes = [ctypes.c_char_p]
_LIVE_LINGER = bool(os.environ.get("BENCH_LIVE_LINGER"))

if os.environ.get("BENCH_NO_ACCESS_LOG"):
    accesslog = None

if os.environ.get("BENCH_NO_MULTIPROCESS_METRICS"):
    # Set by the base config for the workers to inherit; without it prometheus-client keeps values in memory.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def on_starting(server):
        pass

    def child_exit(server, worker):
        pass

    def on_exit(server):
        pass


def _scan_recorder(worker):
    return getattr(worker.wsgi, "extensions", {}).get("trace_scan_recorder")


def post_worker_init(worker):
    _base["post_worker_init"](worker)
    recorder = _scan_recorder(worker)
    if recorder is not None and not _LIVE_LINGER:
        recorder._linger = 24 * 3600


def pre_request(worker, req):
    if req.path.startswith("/__callgrind/dump/"):
        recorder = _scan_recorder(worker)
        if recorder is not None and not _LIVE_LINGER:
            recorder.flush()
        _callgrind.dump(req.path.rsplit("/", 1)[1].encode())


def post_request(worker, req, environ, resp):
    if req.path == "/__callgrind/start":
        _callgrind.start()
    elif req.path == "/__callgrind/zero":
        _callgrind.zero()
    if not os.environ.get("BENCH_NO_YIELD"):
        _base["post_request"](worker, req, environ, resp)
