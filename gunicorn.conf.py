"""Production gunicorn settings; the benchmark harness runs the service with exactly these."""

import gc
import os
import threading
import time

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
loglevel = os.environ.get("LOG_LEVEL", "info")
# gunicorn 27's control socket sits at one per-user path, so a second instance on the same
# host (a benchmark, a test, another service) would take it over; nothing here uses it.
control_socket_disable = True


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
