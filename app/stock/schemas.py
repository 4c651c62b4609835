from decimal import Decimal

from marshmallow import Schema, fields, validate

from app.common.fields import Gtin, TrimmedString
from app.common.pagination import PageQuery, page_schema


class ScanInItem(Schema):
    gtin = Gtin(required=True)
    quantity = fields.Decimal(
        required=True, places=4, as_string=True, validate=validate.Range(min=Decimal(0), min_inclusive=False)
    )


class ScanInCreate(Schema):
    seal_no = TrimmedString(required=True, validate=validate.Length(min=1, max=40))
    seal_intact = fields.Boolean(required=True, metadata={"description": "The seal was checked and is intact."})
    items = fields.List(fields.Nested(ScanInItem), required=True, validate=validate.Length(min=1, max=500))


class MovementRead(Schema):
    id = fields.Integer()
    gtin = fields.String()
    kind = fields.String()
    quantity = fields.Decimal(as_string=True)
    shortfall = fields.Decimal(as_string=True)
    seal_no = fields.String(allow_none=True)
    declaration_id = fields.Integer(allow_none=True)
    occurred_at = fields.DateTime()


class StockLevelRead(Schema):
    warehouse_enterprise_id = fields.Integer()
    gtin = fields.String()
    quantity = fields.Decimal(as_string=True)
    updated_at = fields.DateTime()


class StockQuery(PageQuery):
    gtin = Gtin(load_default=None)


StockPage = page_schema(StockLevelRead, "StockPage")
