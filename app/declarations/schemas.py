"""Declaration input and output. Buyer personal data leaves this service masked, always."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.fields import HS_CODE, BigInteger, DecimalString, Gtin, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.declarations.models import BizStep, DeclarationKind, DeclarationStatus, Disposition, ReleaseSource
from app.i18n import _, _l

CUSTOMS_REG_CODE = validate.Regexp(r"^[0-9A-Z]{10}$", error=_l("A 10-character customs registration code."))
FOUR_DIGITS = validate.Regexp(r"^\d{4}$", error=_l("Four digits."))
THREE_DIGITS = validate.Regexp(r"^\d{3}$", error=_l("A 3-digit customs code."))
INVT_NO = r"^\d{8}[IE]\d{9}$"
# Mainland ID card: 17 digits and a check character (digit or X).
ID_CARD = validate.Regexp(r"^\d{17}[\dX]$", error=_l("An 18-character ID card number."))
MONEY = {"places": 2}


def _positive(precision: int, places: int, **kwargs) -> DecimalString:
    """Greater than 0, within a NUMERIC(precision, places) column."""
    return DecimalString(precision=precision, places=places, min=Decimal(0), min_inclusive=False, **kwargs)


def _amount(**kwargs) -> DecimalString:
    """Money in yuan, within the NUMERIC(14, 2) columns."""
    return DecimalString(precision=14, places=2, min=Decimal(0), **kwargs)


class DeclarationLineCreate(Schema):
    gnum = Integer(required=True, validate=validate.Range(min=1), metadata={"description": "Line number from 1."})
    item_record_no = TrimmedString(load_default=None, validate=validate.Length(max=30))
    item_no = TrimmedString(required=True, validate=validate.Length(min=1, max=30), metadata={"description": "SKU."})
    item_name = TrimmedString(required=True, validate=validate.Length(min=1, max=250))
    g_model = TrimmedString(load_default=None, validate=validate.Length(max=250))
    hs_code = String(required=True, validate=HS_CODE)
    gtin = Gtin(required=True, metadata={"description": "Barcode (GTIN-8/12/13/14); returned as GTIN-14."})
    country = String(required=True, validate=THREE_DIGITS, metadata={"description": "Customs country code."})
    qty = _positive(18, 4, required=True)
    unit = String(required=True, validate=THREE_DIGITS, metadata={"description": "Customs unit code."})
    price = _positive(18, 4, required=True)
    total_price = _positive(14, 2, required=True)

    @validates_schema
    def total_is_qty_times_price(self, data, **kwargs):
        if {"qty", "price", "total_price"} <= data.keys():
            expected = (data["qty"] * data["price"]).quantize(Decimal("0.01"))
            if abs(expected - data["total_price"]) > Decimal("0.01"):
                raise ValidationError(
                    _("Must equal qty × price (%(expected)s).", expected=expected), field_name="total_price"
                )


class DeclarationLineRead(Schema):
    gnum = Integer()
    item_record_no = String(allow_none=True)
    item_no = String()
    item_name = String()
    g_model = String(allow_none=True)
    hs_code = String()
    gtin = String()
    country = String()
    qty = DecimalString()
    unit = String()
    price = DecimalString()
    total_price = DecimalString(**MONEY)


class DeclarationCreate(Schema):
    cop_no = TrimmedString(
        required=True, validate=validate.Length(min=1, max=20), metadata={"description": "Your internal reference."}
    )
    order_no = TrimmedString(required=True, validate=validate.Length(min=1, max=60))
    logistics_no = TrimmedString(
        required=True, validate=validate.Length(min=1, max=60), metadata={"description": "Waybill number."}
    )
    ebp_code = String(required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Platform."})
    ebp_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    ebc_code = String(required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Trader."})
    ebc_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    area_code = String(
        required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Bonded warehouse (in-zone) enterprise."}
    )
    assure_code = String(load_default=None, validate=CUSTOMS_REG_CODE)
    ems_no = TrimmedString(
        load_default=None, validate=validate.Length(max=30), metadata={"description": "Account book."}
    )
    trade_mode = String(
        load_default="1210",
        validate=validate.OneOf(["1210"], error=_l("An import list is 1210; declare exports at /api/v1/export-lists.")),
    )
    customs_code = String(required=True, validate=FOUR_DIGITS, metadata={"description": "Customs office."})
    port_code = String(required=True, validate=FOUR_DIGITS)
    buyer_id_type = String(load_default="1", validate=validate.OneOf(["1"]), metadata={"description": "1: ID card."})
    buyer_id_number = String(required=True, load_only=True, validate=ID_CARD)
    buyer_name = TrimmedString(required=True, load_only=True, validate=validate.Length(min=1, max=60))
    buyer_telephone = String(
        required=True, load_only=True, validate=validate.Regexp(r"^\+?[\d-]{6,30}$", error=_l("A phone number."))
    )
    consignee_address = TrimmedString(required=True, load_only=True, validate=validate.Length(min=4, max=200))
    currency = String(
        load_default="142",
        validate=validate.OneOf(["142"]),
        metadata={"description": "142: CNY (1210 lists are in CNY)."},
    )
    freight = _amount(load_default=Decimal("0.00"))
    insured_fee = _amount(load_default=Decimal("0.00"))
    gross_weight = _positive(14, 4, required=True, metadata={"description": "kg"})
    net_weight = _positive(14, 4, required=True, metadata={"description": "kg"})
    lines = fields.List(fields.Nested(DeclarationLineCreate), required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def consistent(self, data, **kwargs):
        if "lines" in data:
            numbers = [line["gnum"] for line in data["lines"]]
            if numbers != list(range(1, len(numbers) + 1)):
                raise ValidationError(_("Line numbers (gnum) must run 1, 2, 3, ... in order."), field_name="lines")
        if {"gross_weight", "net_weight"} <= data.keys() and data["net_weight"] > data["gross_weight"]:
            raise ValidationError(_("Net weight cannot exceed gross weight."), field_name="net_weight")


def _mask_middle(value: str | None, keep_start: int, keep_end: int) -> str | None:
    if not value:
        return value
    hidden = max(len(value) - keep_start - keep_end, 1)
    return value[:keep_start] + "*" * hidden + (value[-keep_end:] if keep_end else "")


class MaskedBuyer(Schema):
    """The buyer as every API answer shows them: enough to recognise, too little to misuse."""

    id_type = String(attribute="buyer_id_type")
    id_number = fields.Function(lambda d: _mask_middle(d.buyer_id_number, 3, 4))
    name = fields.Function(lambda d: _mask_middle(d.buyer_name, 1, 0))
    telephone = fields.Function(lambda d: _mask_middle(d.buyer_telephone, 3, 4))
    consignee_address = fields.Function(lambda d: _mask_middle(d.consignee_address, 6, 0))


class SameObjectNested(fields.Nested):
    """Nests fields read from the same object, so the buyer's columns answer as one sub-object."""

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj


class DeclarationSummary(Schema):
    id = BigInteger()
    guid = String()
    kind = fields.Enum(DeclarationKind, by_value=True)
    status = fields.Enum(DeclarationStatus, by_value=True)
    cop_no = String()
    invt_no = String(allow_none=True)
    order_no = String()
    logistics_no = String()
    ebc_name = String()
    area_name = String()
    buyer = SameObjectNested(MaskedBuyer, metadata={"description": "Masked."})
    total_value = DecimalString(**MONEY)
    submitted_at = fields.DateTime()
    released_at = fields.DateTime(allow_none=True)
    return_info = String(allow_none=True, metadata={"description": "Customs' last message (e.g. why rejected)."})


class DeclarationRead(DeclarationSummary):
    pre_no = String(allow_none=True)
    ebp_code = String()
    ebp_name = String()
    ebc_code = String()
    agent_code = String()
    agent_name = String()
    area_code = String()
    assure_code = String(allow_none=True)
    ems_no = String(allow_none=True)
    trade_mode = String()
    customs_code = String()
    port_code = String()
    currency = String()
    goods_value = DecimalString(**MONEY)
    freight = DecimalString(**MONEY)
    insured_fee = DecimalString(**MONEY)
    gross_weight = DecimalString()
    net_weight = DecimalString()
    release_source = fields.Enum(ReleaseSource, by_value=True, allow_none=True)
    corrects_id = BigInteger(allow_none=True, metadata={"description": "The rejected declaration this corrects."})
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
    id = BigInteger()
    occurred_at = fields.DateTime(metadata={"description": "When it happened (customs' time for receipts)."})
    step = String(metadata={"description": "What happened, e.g. receipt_120, inspection_booked."})
    title = String()
    status = fields.Enum(DeclarationStatus, by_value=True, metadata={"description": "Status after the event."})
    status_changed = fields.Boolean()
    biz_step = fields.Enum(BizStep, by_value=True, metadata={"description": "CBV 2.0 bizStep."})
    disposition = fields.Enum(Disposition, by_value=True, metadata={"description": "CBV 2.0 disposition."})
    place = String(allow_none=True)
    actor_id = Integer(allow_none=True)
    receipt_id = BigInteger(allow_none=True)
    details = fields.Dict()


class TimelineRead(Schema):
    declaration_id = BigInteger()
    events = fields.List(fields.Nested(TimelineEventRead))


class ReleaseCreate(Schema):
    note = TrimmedString(load_default=None, validate=validate.Length(max=500))


class DurationFigures(Schema):
    count = Integer()
    median_seconds = fields.Float(allow_none=True)
    p90_seconds = fields.Float(allow_none=True)


class ClearanceFiguresRead(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    submitted = Integer(metadata={"description": "Declarations submitted in the range."})
    submission_to_release = fields.Nested(DurationFigures)
    inspection_to_release = fields.Nested(DurationFigures)
    inspection_rate = fields.Float(allow_none=True, metadata={"description": "Share of submitted ones inspected."})
    by_status = fields.Dict(keys=String(), values=Integer())
