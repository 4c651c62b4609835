"""marshmallow's and webargs' own error messages, marked for the catalogues and translated when a problem is rendered.

The libraries write their per-field messages in English when they validate; `app.errors` renders a problem's `errors`
through `translate()`, which looks each message up here. A message with a value in it ("Must be one of: a, b.") is
matched by its pattern and translated with the value kept. Only the messages our schemas can produce are listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask_babel import LazyString, get_locale

from app.i18n import DEFAULT_LOCALE, N_, _

# The messages without values: gettext finds them by their text.
CONSTANT = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Invalid input."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Invalid JSON body."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid UUID."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid integer."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid aware datetime."),
    N_("Not a valid date."),
    N_("Not a valid time."),
    N_("Not a valid mapping type."),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("String does not match expected pattern."),
)

# The messages with values, as marshmallow formats them (`%(name)s` stands for the value).
WITH_VALUES = (
    N_("Must be one of: %(choices)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than %(max)s."),
    N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than %(min)s and less than %(max)s."),
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("One or more of the choices you made was not in: %(choices)s."),
)
_PATTERNS = tuple(
    (re.compile(re.sub(r"%\\\((\w+)\\\)s", r"(?P<\1>.+?)", re.escape(template)) + r"\Z", re.S), template)
    for template in WITH_VALUES
)


@lru_cache(maxsize=1024)
def _match(message: str) -> tuple[str, dict[str, str]] | None:
    for pattern, template in _PATTERNS:
        if found := pattern.match(message):
            return template, found.groupdict()
    return None


def _message(message: str) -> str:
    """One message in the request's language: by its text, else by the pattern it was formatted from."""
    translated = _(message)
    if translated != message:
        return translated
    if (found := _match(message)) is not None:
        template, values = found
        return _(template, **values)
    return message


def translate(errors: Any) -> Any:
    """`errors` as webargs or a service reported them, every message in the request's language (keys unchanged)."""
    if str(get_locale() or DEFAULT_LOCALE) == DEFAULT_LOCALE:
        return _stringify(errors)
    return _walk(errors)


def _walk(errors: Any) -> Any:
    if isinstance(errors, str):
        return _message(errors)
    if isinstance(errors, LazyString):
        return str(errors)
    if isinstance(errors, Mapping):
        return {key: _walk(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [_walk(item) for item in errors]
    return errors


def _stringify(errors: Any) -> Any:
    if isinstance(errors, LazyString):
        return str(errors)
    if isinstance(errors, Mapping):
        return {key: _stringify(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [_stringify(item) for item in errors]
    return errors
