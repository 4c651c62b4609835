"""Marshmallow fields every schema uses: they hold no input the database would refuse.

Each value type a column stores has one field here, bounded as that column is, so a request can never carry a value
that reaches the database and fails there (a 500) instead of failing here (a 422 naming the field):

- `Integer` and `BigInteger` hold what PostgreSQL's INTEGER and BIGINT hold (ids of tables declared with a plain
  primary key are INTEGER there; `BigIntPK` ones are BIGINT);
- `String` refuses the C0 control characters, NUL first (PostgreSQL refuses NUL in text), keeping tab, CR and LF;
- `DecimalString` travels as a string ("409.00", exact) with no more digits than its NUMERIC(precision, scale)
  column.

tests/common/test_schema_fields.py fails if a schema declares marshmallow's own `fields.Integer`, `fields.String` or
`fields.Decimal`, so no schema is forgotten.
"""

from __future__ import annotations

import decimal
import re
from typing import Any

from marshmallow import ValidationError, fields, validate
from stdnum import ean

from app.i18n import _, _l

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# C0 control characters but tab, LF and CR: no form or scanner sends them, and PostgreSQL refuses NUL in text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARACTER_MESSAGE = _l("Must not contain control characters (such as NUL).")

# The 8-digit tariff code plus 2 supervision digits, as declarations and bonded lists carry it.
HS_CODE = validate.Regexp(r"^\d{10}$", error=_l("A 10-digit HS code (8-digit tariff code and 2 supervision digits)."))
CUSTOMS_CODE = validate.Regexp(r"^\d{4}$", error=_l("A 4-digit customs office code."))


class Integer(fields.Integer):
    """An integer as an INTEGER column holds it (32-bit signed on PostgreSQL)."""

    MIN, MAX = -(2**31), INT32_MAX

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # First, so a huge number is refused for its size before other validators compare it.
        self.validators.insert(0, validate.Range(min=self.MIN, max=self.MAX))


class BigInteger(Integer):
    """An integer as a BIGINT column holds it: ids of `BigIntPK` tables, notice sequence numbers."""

    MIN, MAX = -(2**63), INT64_MAX


class String(fields.String):
    """Text without control characters other than tab, CR and LF."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if CONTROL_CHARACTERS.search(text):
            raise ValidationError(str(CONTROL_CHARACTER_MESSAGE))
        return text


class DecimalString(fields.Decimal):
    """An exact decimal, sent and documented as a string ("409.00"); numbers are accepted on input too.

    `precision` and `places` are the NUMERIC column's precision and scale: input is rounded to `places` and
    refused when it has more integer digits than the column holds. The OpenAPI document shows it as a string
    with a pattern (app/api.py), so a generated client never turns an amount into a float.
    """

    def __init__(
        self,
        *,
        precision: int | None = None,
        places: int | None = None,
        min: decimal.Decimal | None = None,
        min_inclusive: bool = True,
        max: decimal.Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(places=places, as_string=True, **kwargs)
        self.precision = precision
        self.scale = places  # marshmallow keeps `places` as a quantum, Decimal('0.01')
        self.minimum = min
        self.min_inclusive = min_inclusive
        self.maximum = max

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> decimal.Decimal:
        number = super()._deserialize(value, attr, data, **kwargs)
        if self.minimum is not None and (number < self.minimum or (number == self.minimum and not self.min_inclusive)):
            if self.min_inclusive:
                raise ValidationError(_("Must be greater than or equal to %(min)s.", min=self.minimum))
            raise ValidationError(_("Must be greater than %(min)s.", min=self.minimum))
        if self.maximum is not None and number > self.maximum:
            raise ValidationError(_("Must be less than or equal to %(max)s.", max=self.maximum))
        if self.precision is not None:
            integer_digits = self.precision - (self.scale or 0)
            if abs(number) >= decimal.Decimal(10) ** integer_digits:
                raise ValidationError(
                    _(
                        "Must have at most %(integer_digits)s digits before the decimal point.",
                        integer_digits=integer_digits,
                    )
                )
        return number

    def pattern(self) -> str:
        """The regular expression of the strings this field sends and accepts, for the OpenAPI document."""
        sign = "" if self.minimum is not None and self.minimum >= 0 else "-?"
        integer = f"\\d{{1,{self.precision - (self.scale or 0)}}}" if self.precision else "\\d+"
        fraction = f"(\\.\\d{{1,{self.scale}}})?" if self.scale else "(\\.\\d+)?" if self.scale is None else ""
        return f"^{sign}{integer}{fraction}$"


class TrimmedString(String):
    """Strips surrounding whitespace before validating, so "   " fails a minimum length."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def normalize_gtin(raw: str) -> str:
    """A GTIN-8/12/13/14 as GTIN-14 (the GS1 Digital Link form); ValueError says what is wrong."""
    raw = raw.strip()
    if not raw.isdigit() or len(raw) not in (8, 12, 13, 14):
        raise ValueError(_("A GTIN has 8, 12, 13 or 14 digits."))
    if not ean.is_valid(raw):
        raise ValueError(_("The GTIN check digit is wrong; re-scan the barcode."))
    # UPC-A (12) and EAN-8 scan short; padding gives every product one key.
    return raw.zfill(14)


class Gtin(String):
    """A GTIN-8/12/13/14 with a valid check digit, kept as GTIN-14."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            return normalize_gtin(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ValidationError(str(error)) from None


def normalize_plate(raw: str) -> str:
    """A vehicle plate without separators, upper case (gates and risk both read plates)."""
    # Plates are written with a middle dot or a space after the office letter (渝A·12345).
    return re.sub(r"[\s·•.\-]", "", raw).upper()


class PlateRead(String):
    """A plate as a camera read it: normalised but not validated (a misread is evidence, not an error)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        plate = normalize_plate(super()._deserialize(value, attr, data, **kwargs))
        if not 1 <= len(plate) <= 10:
            raise ValidationError(_("1-10 characters."))
        return plate
