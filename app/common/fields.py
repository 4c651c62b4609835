"""Marshmallow fields several domains share."""

from typing import Any

from marshmallow import ValidationError, fields, validate
from stdnum import ean

# The 8-digit tariff code plus 2 supervision digits, as declarations and bonded lists carry it.
HS_CODE = validate.Regexp(r"^\d{10}$", error="A 10-digit HS code (8-digit tariff code and 2 supervision digits).")
CUSTOMS_CODE = validate.Regexp(r"^\d{4}$", error="A 4-digit customs office code.")


class TrimmedString(fields.String):
    """Strips surrounding whitespace before validating, so "   " fails a minimum length."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def normalize_gtin(raw: str) -> str:
    """A GTIN-8/12/13/14 as GTIN-14 (the GS1 Digital Link form); ValueError says what is wrong."""
    raw = raw.strip()
    if not raw.isdigit() or len(raw) not in (8, 12, 13, 14):
        raise ValueError("A GTIN has 8, 12, 13 or 14 digits.")
    if not ean.is_valid(raw):
        raise ValueError("The GTIN check digit is wrong; re-scan the barcode.")
    # UPC-A (12) and EAN-8 scan short; padding gives every product one key.
    return raw.zfill(14)


class Gtin(fields.String):
    """A GTIN-8/12/13/14 with a valid check digit, kept as GTIN-14."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            return normalize_gtin(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ValidationError(str(error)) from None
