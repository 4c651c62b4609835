from decimal import Decimal

from marshmallow import Schema, fields, validate

from app.common.fields import BigInteger, DecimalString, Gtin, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema


class ScanInItem(Schema):
    gtin = Gtin(required=True)
    quantity = DecimalString(required=True, precision=18, places=4, min=Decimal(0), min_inclusive=False)


class ScanInCreate(Schema):
    seal_no = TrimmedString(required=True, validate=validate.Length(min=1, max=40))
    seal_intact = fields.Boolean(required=True, metadata={"description": "The seal was checked and is intact."})
    items = fields.List(fields.Nested(ScanInItem), required=True, validate=validate.Length(min=1, max=500))


class MovementRead(Schema):
    id = BigInteger()
    gtin = String()
    kind = String()
    quantity = DecimalString()
    shortfall = DecimalString()
    seal_no = String(allow_none=True)
    declaration_id = BigInteger(allow_none=True)
    occurred_at = fields.DateTime()


class StockLevelRead(Schema):
    warehouse_enterprise_id = Integer()
    gtin = String()
    quantity = DecimalString()
    updated_at = fields.DateTime()


class StockQuery(PageQuery):
    gtin = Gtin(load_default=None)


StockPage = page_schema(StockLevelRead, "StockPage")
