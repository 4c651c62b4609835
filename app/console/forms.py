"""Forms in the console are the API's schemas fed from HTML fields: one set of input rules, two doors.

    data, errors = load_form(UserCreate, request.form, fields=("username", "display_name", ...))
    if errors: re-render the form with `errors` (field -> messages; "_form" for the form as a whole)
    else: call the same service the API route calls; catch DomainError and show `field_errors(error)`

Every form posts `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">` (the layout's forms do);
app/console/web.py refuses a POST without a valid one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from app.common.pagination import Cursor
from app.errors import DomainError

FORM = "_form"


def load_form(
    schema: type[Schema],
    form: Mapping[str, str],
    *,
    fields: Iterable[str],
    partial: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
    checkboxes: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The schema's load of the named form fields (an empty field counts as not given), and the errors by field.

    `partial` names required fields the form does not ask for; `lists`, fields given as several values (checkboxes
    of one name); `checkboxes`, yes/no fields (an unticked box is sent as nothing, so it means false).
    """
    given: dict[str, Any] = {name: form[name].strip() for name in fields if form.get(name, "").strip() != ""}
    for name in lists:
        given[name] = form.getlist(name)  # type: ignore[attr-defined]
    for name in checkboxes:
        given[name] = name in form
    try:
        return schema(partial=partial).load(given), {}
    except ValidationError as error:
        return {}, _flatten(error.messages)


def field_errors(error: DomainError) -> dict[str, list[str]]:
    """A service's refusal as messages by field (its `errors`, under whatever location), else for the whole form."""
    found: dict[str, list[str]] = {}
    for by_field in (error.errors or {}).values():
        if isinstance(by_field, Mapping):
            for name, messages in by_field.items():
                found.setdefault(name, []).extend(messages if isinstance(messages, list) else [str(messages)])
    found.setdefault(FORM, []).append(error.detail)
    return found


def _flatten(messages: Any) -> dict[str, list[str]]:
    if not isinstance(messages, Mapping):
        return {FORM: [str(messages)]}
    return {("_form" if name == "_schema" else name): list(value) for name, value in messages.items()}


def cursor_token(key: int | None) -> str | None:
    """The opaque cursor a page link carries, as the API's lists hand it out."""
    return Cursor()._serialize(key, None, None)
