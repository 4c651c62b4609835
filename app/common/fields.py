"""Marshmallow fields several domains share."""

from typing import Any

from marshmallow import fields


class TrimmedString(fields.String):
    """Strips surrounding whitespace before validating, so "   " fails a minimum length."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()
