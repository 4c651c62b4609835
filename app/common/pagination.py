"""Keyset (cursor) pagination: stable under inserts and O(limit) at any depth, unlike OFFSET."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import Session

from app.common.fields import INT64_MAX, Integer
from app.i18n import _

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Cursor(fields.Field):
    """An opaque token naming the last row of the previous page; clients must not build one."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return base64.urlsafe_b64encode(f"k:{value}".encode()).decode().rstrip("=")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        try:
            raw = base64.urlsafe_b64decode(str(value) + "=" * (-len(str(value)) % 4)).decode()
            prefix, key = raw.split(":", 1)
            if prefix != "k" or not 0 <= int(key) <= INT64_MAX:  # keys are ids; a bigger one would overflow the query
                raise ValueError(prefix)
            return int(key)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise ValidationError(
                _("Not a cursor this service issued; use next_cursor from a previous page.")
            ) from None


class PageQuery(Schema):
    limit = Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page, at most {MAX_LIMIT}."},
    )
    cursor = Cursor(
        load_default=None,
        metadata={"description": "next_cursor from the previous page; omit for the first page."},
    )


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The envelope every list endpoint answers with."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": Cursor(
                allow_none=True,
                required=True,
                metadata={"description": "Pass as cursor for the next page; null on the last page."},
            ),
        },
        name=name,
    )


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: int | None


def where_given(statement: Select[Any], *pairs: tuple[ColumnElement[Any], object]) -> Select[Any]:
    """Add `column == value` for each filter the caller gave (None means "not filtered")."""
    for column, value in pairs:
        if value is not None:
            statement = statement.where(column == value)
    return statement


def paginate(
    session: Session,
    statement: Select[Any],
    *,
    key: ColumnElement[int],
    cursor: int | None,
    limit: int,
) -> Page[Any]:
    """Newest first by `key` (a unique, increasing column such as the primary key)."""
    if cursor is not None:
        statement = statement.where(key < cursor)
    rows = list(session.scalars(statement.order_by(key.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    items = rows[:limit]
    return Page(items=items, next_cursor=getattr(items[-1], key.key) if has_more else None)
