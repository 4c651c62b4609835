"""Log lines as JSON (python-json-logger) or text, each carrying the id of the request that wrote it.

The request id reaches every record through the log-record factory, so a line written by any library's logger during
a request has it, whichever handler (ours, gunicorn's, pytest's caplog) receives the record. It costs nothing per
request: only a line actually logged looks it up. Lines outside requests have none (JSON null, text "-").
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from app.infra import observe

HANDLER_NAME = "smart-park"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
LOG_FORMATS = ("json", "text")

_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if (request_id := observe.request_id()) is not None:
        record.request_id = request_id
    return record


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, request_id, and any `extra` or exception."""
    return OrjsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})


def configure(log_format: str) -> None:
    """Give the root logger our handler (unless someone else configured logging first, as basicConfig does)."""
    logging.setLogRecordFactory(_record_with_request_id)
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if handler.get_name() == HANDLER_NAME]
    if root.handlers and not ours:
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    text = logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})
    handler.setFormatter(json_formatter() if log_format == "json" else text)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
