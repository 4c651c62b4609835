"""What every request's path and JSON body must satisfy before any route sees them.

- `<int:...>` path ids stop where a BIGINT id column stops, `<int32:...>` ones where an INTEGER one does: a larger
  number names no row, so it answers 404 like any unknown id (the router finds no match) instead of reaching the
  database, where SQLite overflows and PostgreSQL refuses it even in a comparison. 404, not 422: the path is a
  name, no row can carry that name, and an unknown id already answers 404; the OpenAPI document shows the bound as
  the parameter's `maximum`.
- Text path segments (a trace serial, a device id, the resolver's Digital Link) refuse the C0 control characters as
  `String` fields do (app/common/fields.py), with a 422 naming the segment under `errors.path`.
- JSON bodies are parsed by the json module, whose C parser raises RecursionError on deep nesting (100,000 `[`s);
  that, and any nesting deeper than MAX_JSON_DEPTH, is a malformed body (400) instead of a crash.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.routing import IntegerConverter, Map

from app.common.fields import CONTROL_CHARACTER_MESSAGE, CONTROL_CHARACTERS, INT32_MAX, INT64_MAX
from app.errors import InvalidInput

# Deeper than any document the API takes (an EPCIS event nests about 6 levels), shallow enough that code walking a
# body recursively (jsonschema, json.dumps of a receipt) stays far from Python's recursion limit.
MAX_JSON_DEPTH = 64


class IdConverter(IntegerConverter):
    """Flask's `int` converter, bounded to a BIGINT id: 0 to 2**63 - 1."""

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = INT64_MAX, signed: bool = False
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class Int32Converter(IdConverter):
    """`<int32:...>` for ids of tables with a plain INTEGER key (users, enterprises, gates, lanes, vehicles,
    inspection sites): PostgreSQL refuses a larger number even in a comparison (`id = 2147483648::INTEGER`)."""

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = INT32_MAX, signed: bool = False
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def refuse_control_characters_in_path(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A url_value_preprocessor: text path segments with control characters never reach a route."""
    for name, value in (values or {}).items():
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise InvalidInput.of_field(name, str(CONTROL_CHARACTER_MESSAGE), location="path")


class TooDeep(json.JSONDecodeError):
    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "", 0)


def loads_json_body(body: bytes | str) -> Any:
    """json.loads for request bodies: deep nesting raises TooDeep (a ValueError), never RecursionError."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise TooDeep() from None
    # Counting brackets is a C-speed scan; only a body with that many can be nested too deep, so most are not walked.
    raw = body.encode() if isinstance(body, str) else body
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(document) > MAX_JSON_DEPTH:
        raise TooDeep()
    return document


def _depth(document: Any) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
    return deepest
