"""Production gunicorn settings; the benchmark harness runs the service with exactly these."""

import gc
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from gunicorn.glogging import Logger

# Loopback unless told otherwise: a reverse proxy or load balancer faces the network.
bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# One process by default: the embedded SQLite deployment has one writer anyway.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# gevent: an open notice stream (GET /api/v1/notices/stream) is a parked greenlet, so thousands
# share a worker with the REST API on one port. gthread suits a REST-only deployment whose
# streams are served by a gevent gunicorn of their own: there each open stream pins a thread.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
# Open streams plus REST requests per worker; each needs a file descriptor (ulimit -n).
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound (0: never). Not often: the replacement
# loads the app before it accepts, so with one worker nobody is served for that second or two.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "200000"))
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
# The combined format plus the request's id (app/infra/observe.py), the same id as in the app's log lines.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s request_id=%({x-request-id}o)s'
# Workers log one JSON object per line unless told otherwise (LOG_FORMAT=text); the CLI defaults to text.
os.environ.setdefault("LOG_FORMAT", "json")
# /metrics adds up every worker (prometheus-client's multiprocess mode, app/infra/metrics.py): the workers keep their
# values in files under this directory, emptied at each start. Set here, before any worker imports prometheus-client.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="smart-park-metrics-")
loglevel = os.environ.get("LOG_LEVEL", "info")
# gunicorn 27's control socket sits at one per-user path, so a second instance on the same
# host (a benchmark, a test, another service) would take it over; nothing here uses it.
control_socket_disable = True


# The access log format's atoms that read a request header ({name}i) or the environ ({name}e).
_HEADER_OR_ENVIRON_ATOM = re.compile(r"%\(\{[^}]*\}[ie]\)")
# What gunicorn's own atoms (everything but {name}i/o/e) read from the environ.
_ENVIRON_READ = (
    "REMOTE_ADDR",
    "HTTP_AUTHORIZATION",
    "REQUEST_METHOD",
    "RAW_URI",
    "SERVER_PROTOCOL",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_REFERER",
    "HTTP_USER_AGENT",
)


class JsonAwareLogger(Logger):
    """gunicorn's own lines (start-up, worker deaths, the access log) in the workers' format.

    gunicorn builds every access-log line's atoms from every request header and every environ variable (some forty
    entries, each then quoted by its SafeAtoms wrapper) though our format reads none of them: a tenth of the cost of a
    trace lookup's access line went to that. When the format names no `{name}i` or `{name}e` atom, the atoms are
    built from the environ variables gunicorn's own atoms read, and no request headers: the same values, the same line.
    """

    def setup(self, cfg):
        super().setup(cfg)
        self._atoms_read_everything = bool(_HEADER_OR_ENVIRON_ATOM.search(cfg.access_log_format))
        if os.environ.get("LOG_FORMAT") == "json":
            from pythonjsonlogger.orjson import OrjsonFormatter

            fields = "%(asctime)s %(levelname)s %(name)s %(message)s"
            renamed = {"asctime": "time", "levelname": "level", "name": "logger"}
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(OrjsonFormatter(fields, rename_fields=renamed))

    def atoms(self, resp, req, environ, request_time):
        if self._atoms_read_everything:
            return super().atoms(resp, req, environ, request_time)
        read = {key: environ[key] for key in _ENVIRON_READ if key in environ}
        return super().atoms(resp, (), read, request_time)


logger_class = JsonAwareLogger


def on_starting(server):
    """Start the metrics from zero: files a previous run left would add its counts to ours."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A dead worker's gauges (open streams, queued scans, pool use) leave the sums; its counts stay in them."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):
    """Move what start-up loaded (the app, its modules) out of the collector's sight, and watch for the stop.

    A full collection then walks only what requests allocate: with the app's ~170k start-up
    objects in view it paused the worker for 90-240 ms, and every open stream and request with it.
    """
    gc.collect()
    gc.freeze()
    threading.Thread(target=_end_streams_when_stopping, args=(worker,), name="stream-closer", daemon=True).start()


def _end_streams_when_stopping(worker):
    """A worker that stops (recycled after max_requests, or told to) ends its notice streams at once.

    It stops accepting first and then waits for its open connections, up to graceful_timeout: an app's stream
    never ends by itself, so a recycled worker sat out the whole 20 s, and with one worker nobody was served.
    """
    while worker.alive:
        time.sleep(0.5)
    worker.wsgi.extensions["notice_hub"].close_streams()


def post_request(worker, req, environ, resp):
    """Under gevent, let the other connections' requests run before this connection's next one.

    A keep-alive client whose next request is already waiting would otherwise be served again
    without the worker ever yielding, and the other connections (streams included) starve.
    """
    if worker_class == "gevent":
        import gevent

        gevent.sleep(0)
