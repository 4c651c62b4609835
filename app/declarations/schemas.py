"""Declaration input and output. Buyer personal data leaves this service masked, always."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.fields import HS_CODE, Gtin, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.declarations.models import BizStep, DeclarationKind, DeclarationStatus, Disposition, ReleaseSource

CUSTOMS_REG_CODE = validate.Regexp(r"^[0-9A-Z]{10}$", error="A 10-character customs registration code.")
FOUR_DIGITS = validate.Regexp(r"^\d{4}$", error="Four digits.")
THREE_DIGITS = validate.Regexp(r"^\d{3}$", error="A 3-digit customs code.")
INVT_NO = r"^\d{8}[IE]\d{9}$"
# Mainland ID card: 17 digits and a check character (digit or X).
ID_CARD = validate.Regexp(r"^\d{17}[\dX]$", error="An 18-character ID card number.")
MONEY = {"as_string": True, "places": 2}


def _positive(places: int, **kwargs) -> fields.Decimal:
    return fields.Decimal(
        places=places, as_string=True, validate=validate.Range(min=Decimal(0), min_inclusive=False), **kwargs
    )


def _amount(**kwargs) -> fields.Decimal:
    return fields.Decimal(places=2, as_string=True, validate=validate.Range(min=Decimal(0)), **kwargs)


class DeclarationLineCreate(Schema):
    gnum = fields.Integer(
        required=True, validate=validate.Range(min=1), metadata={"description": "Line number from 1."}
    )
    item_record_no = TrimmedString(load_default=None, validate=validate.Length(max=30))
    item_no = TrimmedString(required=True, validate=validate.Length(min=1, max=30), metadata={"description": "SKU."})
    item_name = TrimmedString(required=True, validate=validate.Length(min=1, max=250))
    g_model = TrimmedString(load_default=None, validate=validate.Length(max=250))
    hs_code = fields.String(required=True, validate=HS_CODE)
    gtin = Gtin(required=True, metadata={"description": "Barcode (GTIN-8/12/13/14); returned as GTIN-14."})
    country = fields.String(required=True, validate=THREE_DIGITS, metadata={"description": "Customs country code."})
    qty = _positive(4, required=True)
    unit = fields.String(required=True, validate=THREE_DIGITS, metadata={"description": "Customs unit code."})
    price = _positive(4, required=True)
    total_price = _positive(2, required=True)

    @validates_schema
    def total_is_qty_times_price(self, data, **kwargs):
        if {"qty", "price", "total_price"} <= data.keys():
            expected = (data["qty"] * data["price"]).quantize(Decimal("0.01"))
            if abs(expected - data["total_price"]) > Decimal("0.01"):
                raise ValidationError(f"Must equal qty × price ({expected}).", field_name="total_price")


class DeclarationLineRead(Schema):
    gnum = fields.Integer()
    item_record_no = fields.String(allow_none=True)
    item_no = fields.String()
    item_name = fields.String()
    g_model = fields.String(allow_none=True)
    hs_code = fields.String()
    gtin = fields.String()
    country = fields.String()
    qty = fields.Decimal(as_string=True)
    unit = fields.String()
    price = fields.Decimal(as_string=True)
    total_price = fields.Decimal(**MONEY)


class DeclarationCreate(Schema):
    cop_no = TrimmedString(
        required=True, validate=validate.Length(min=1, max=20), metadata={"description": "Your internal reference."}
    )
    order_no = TrimmedString(required=True, validate=validate.Length(min=1, max=60))
    logistics_no = TrimmedString(
        required=True, validate=validate.Length(min=1, max=60), metadata={"description": "Waybill number."}
    )
    ebp_code = fields.String(required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Platform."})
    ebp_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    ebc_code = fields.String(required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Trader."})
    ebc_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    area_code = fields.String(
        required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Bonded warehouse (in-zone) enterprise."}
    )
    assure_code = fields.String(load_default=None, validate=CUSTOMS_REG_CODE)
    ems_no = TrimmedString(
        load_default=None, validate=validate.Length(max=30), metadata={"description": "Account book."}
    )
    trade_mode = fields.String(load_default="1210", validate=validate.OneOf(["1210"]))
    customs_code = fields.String(required=True, validate=FOUR_DIGITS, metadata={"description": "Customs office."})
    port_code = fields.String(required=True, validate=FOUR_DIGITS)
    buyer_id_type = fields.String(
        load_default="1", validate=validate.OneOf(["1"]), metadata={"description": "1: ID card."}
    )
    buyer_id_number = fields.String(required=True, load_only=True, validate=ID_CARD)
    buyer_name = TrimmedString(required=True, load_only=True, validate=validate.Length(min=1, max=60))
    buyer_telephone = fields.String(
        required=True, load_only=True, validate=validate.Regexp(r"^\+?[\d-]{6,30}$", error="A phone number.")
    )
    consignee_address = TrimmedString(required=True, load_only=True, validate=validate.Length(min=4, max=200))
    currency = fields.String(
        load_default="142",
        validate=validate.OneOf(["142"]),
        metadata={"description": "142: CNY (1210 lists are in CNY)."},
    )
    freight = _amount(load_default=Decimal("0.00"))
    insured_fee = _amount(load_default=Decimal("0.00"))
    gross_weight = _positive(4, required=True, metadata={"description": "kg"})
    net_weight = _positive(4, required=True, metadata={"description": "kg"})
    lines = fields.List(fields.Nested(DeclarationLineCreate), required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def consistent(self, data, **kwargs):
        if "lines" in data:
            numbers = [line["gnum"] for line in data["lines"]]
            if numbers != list(range(1, len(numbers) + 1)):
                raise ValidationError("Line numbers (gnum) must run 1, 2, 3, ... in order.", field_name="lines")
        if {"gross_weight", "net_weight"} <= data.keys() and data["net_weight"] > data["gross_weight"]:
            raise ValidationError("Net weight cannot exceed gross weight.", field_name="net_weight")


def _mask_middle(value: str | None, keep_start: int, keep_end: int) -> str | None:
    if not value:
        return value
    hidden = max(len(value) - keep_start - keep_end, 1)
    return value[:keep_start] + "*" * hidden + (value[-keep_end:] if keep_end else "")


class MaskedBuyer(Schema):
    """The buyer as every API answer shows them: enough to recognise, too little to misuse."""

    id_type = fields.String(attribute="buyer_id_type")
    id_number = fields.Function(lambda d: _mask_middle(d.buyer_id_number, 3, 4))
    name = fields.Function(lambda d: _mask_middle(d.buyer_name, 1, 0))
    telephone = fields.Function(lambda d: _mask_middle(d.buyer_telephone, 3, 4))
    consignee_address = fields.Function(lambda d: _mask_middle(d.consignee_address, 6, 0))


class SameObjectNested(fields.Nested):
    """Nests fields read from the same object, so the buyer's columns answer as one sub-object."""

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj


class DeclarationSummary(Schema):
    id = fields.Integer()
    guid = fields.String()
    kind = fields.Enum(DeclarationKind, by_value=True)
    status = fields.Enum(DeclarationStatus, by_value=True)
    cop_no = fields.String()
    invt_no = fields.String(allow_none=True)
    order_no = fields.String()
    logistics_no = fields.String()
    ebc_name = fields.String()
    area_name = fields.String()
    buyer = SameObjectNested(MaskedBuyer, metadata={"description": "Masked."})
    total_value = fields.Decimal(**MONEY)
    submitted_at = fields.DateTime()
    released_at = fields.DateTime(allow_none=True)
    return_info = fields.String(allow_none=True, metadata={"description": "Customs' last message (e.g. why rejected)."})


class DeclarationRead(DeclarationSummary):
    pre_no = fields.String(allow_none=True)
    ebp_code = fields.String()
    ebp_name = fields.String()
    ebc_code = fields.String()
    agent_code = fields.String()
    agent_name = fields.String()
    area_code = fields.String()
    assure_code = fields.String(allow_none=True)
    ems_no = fields.String(allow_none=True)
    trade_mode = fields.String()
    customs_code = fields.String()
    port_code = fields.String()
    currency = fields.String()
    goods_value = fields.Decimal(**MONEY)
    freight = fields.Decimal(**MONEY)
    insured_fee = fields.Decimal(**MONEY)
    gross_weight = fields.Decimal(as_string=True)
    net_weight = fields.Decimal(as_string=True)
    release_source = fields.Enum(ReleaseSource, by_value=True, allow_none=True)
    corrects_id = fields.Integer(allow_none=True, metadata={"description": "The rejected declaration this corrects."})
    lines = fields.List(fields.Nested(DeclarationLineRead))


class DeclarationQuery(PageQuery):
    status = fields.Enum(DeclarationStatus, by_value=True)
    since = fields.AwareDateTime(metadata={"description": "Submitted at or after (ISO 8601 with offset)."})
    until = fields.AwareDateTime(metadata={"description": "Submitted before (ISO 8601 with offset)."})
    q = TrimmedString(
        validate=validate.Length(min=1, max=60),
        metadata={"description": "Number search: cop_no, invt_no, order or waybill number (prefix)."},
    )


DeclarationPage = page_schema(DeclarationSummary, "DeclarationPage")


class TimelineEventRead(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime(metadata={"description": "When it happened (customs' time for receipts)."})
    step = fields.String(metadata={"description": "What happened, e.g. receipt_120, inspection_booked."})
    title = fields.String()
    status = fields.Enum(DeclarationStatus, by_value=True, metadata={"description": "Status after the event."})
    status_changed = fields.Boolean()
    biz_step = fields.Enum(BizStep, by_value=True, metadata={"description": "CBV 2.0 bizStep."})
    disposition = fields.Enum(Disposition, by_value=True, metadata={"description": "CBV 2.0 disposition."})
    place = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    receipt_id = fields.Integer(allow_none=True)
    details = fields.Dict()


class TimelineRead(Schema):
    declaration_id = fields.Integer()
    events = fields.List(fields.Nested(TimelineEventRead))


class ReleaseCreate(Schema):
    note = TrimmedString(load_default=None, validate=validate.Length(max=500))


class FiguresQuery(Schema):
    since = fields.AwareDateTime(required=True, metadata={"description": "Submitted at or after."})
    until = fields.AwareDateTime(required=True, metadata={"description": "Submitted before."})

    @validates_schema
    def ordered(self, data, **kwargs):
        if {"since", "until"} <= data.keys() and data["since"] >= data["until"]:
            raise ValidationError("until must be after since.", field_name="until")


class DurationFigures(Schema):
    count = fields.Integer()
    median_seconds = fields.Float(allow_none=True)
    p90_seconds = fields.Float(allow_none=True)


class ClearanceFiguresRead(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    submitted = fields.Integer(metadata={"description": "Declarations submitted in the range."})
    submission_to_release = fields.Nested(DurationFigures)
    inspection_to_release = fields.Nested(DurationFigures)
    inspection_rate = fields.Float(allow_none=True, metadata={"description": "Share of submitted ones inspected."})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
