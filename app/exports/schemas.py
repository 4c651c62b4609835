"""Export list input and output (CEB603 head, goods lines and parcels)."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.fields import BigInteger, DecimalString, Gtin, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.declarations.models import DeclarationStatus
from app.declarations.schemas import (
    CUSTOMS_REG_CODE,
    FOUR_DIGITS,
    MONEY,
    THREE_DIGITS,
    DeclarationLineCreate,
    DeclarationLineRead,
)
from app.exports.models import DivertReason, ParcelStage
from app.i18n import _, _l

MAX_PARCELS_PER_LIST = 1000
# Export trade modes (GAC 2014 No. 12 for 9610, No. 57 for 1210, 2020 No. 75 for 9710 and 9810).
EXPORT_TRADE_MODES = ("9610", "9710", "9810", "1210")
# JGS-20 transport modes a cross-border parcel leaves by: 2 sea, 3 rail, 4 road, 5 air, 6 post.
TRAF_MODES = ("2", "3", "4", "5", "6")
# A logistics enterprise is named by its 10-character customs code or its 18-character USCC (CEB603).
LOGISTICS_CODE = validate.Regexp(
    r"^([0-9A-Z]{10}|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})$",
    error=_l("A 10-character customs code or an 18-character unified social credit code."),
)
WAYBILL_NO = validate.Regexp(r"^[0-9A-Za-z-]{6,40}$", error=_l("6-40 letters, digits or hyphens."))
WEIGHT = {"precision": 14, "places": 4, "min": Decimal(0), "min_inclusive": False}


class ExportLineCreate(DeclarationLineCreate):
    gtin = Gtin(load_default=None, metadata={"description": "Barcode (CEB603 barCode), when the goods have one."})


class ExportLineRead(DeclarationLineRead):
    gtin = String(allow_none=True)


class ParcelCreate(Schema):
    waybill_no = String(required=True, validate=WAYBILL_NO, metadata={"description": "The parcel's own waybill."})
    gross_weight = DecimalString(required=True, metadata={"description": "kg"}, **WEIGHT)


class ExportListCreate(Schema):
    cop_no = TrimmedString(
        required=True, validate=validate.Length(min=1, max=20), metadata={"description": "Your internal reference."}
    )
    trade_mode = String(required=True, validate=validate.OneOf(EXPORT_TRADE_MODES))
    order_no = TrimmedString(required=True, validate=validate.Length(min=1, max=60))
    logistics_no = String(required=True, validate=WAYBILL_NO, metadata={"description": "The list's waybill."})
    logistics_code = String(required=True, validate=LOGISTICS_CODE)
    logistics_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    ebp_code = String(required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Platform."})
    ebp_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    ebc_code = String(required=True, validate=CUSTOMS_REG_CODE, metadata={"description": "Exporter (e-commerce)."})
    ebc_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    area_code = String(
        required=True,
        validate=CUSTOMS_REG_CODE,
        metadata={"description": "The in-zone warehouse enterprise that scans the parcels in (CEB603 iacCode)."},
    )
    ems_no = TrimmedString(
        load_default=None,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "Account book; required for 1210 bonded export."},
    )
    customs_code = String(required=True, validate=FOUR_DIGITS, metadata={"description": "Customs office."})
    port_code = String(
        required=True, validate=FOUR_DIGITS, metadata={"description": "The port customs the goods leave by."}
    )
    statistics_flag = String(
        load_default="A", validate=validate.OneOf(["A", "B"]), metadata={"description": "A simplified, B summarised."}
    )
    traf_mode = String(required=True, validate=validate.OneOf(TRAF_MODES), metadata={"description": "5: air."})
    bill_no = TrimmedString(
        load_default=None, validate=validate.Length(min=1, max=37), metadata={"description": "Master waybill."}
    )
    destination_country = String(
        required=True, validate=THREE_DIGITS, metadata={"description": "Direct destination (customs country code)."}
    )
    destination_port = String(
        load_default=None, validate=validate.Regexp(r"^[0-9A-Z]{1,10}$", error=_l("Up to 10 letters or digits."))
    )
    consignee_name = TrimmedString(required=True, validate=validate.Length(min=1, max=100))
    consignee_country = String(required=True, validate=THREE_DIGITS)
    consignee_address = TrimmedString(load_default=None, validate=validate.Length(min=4, max=200))
    consignee_telephone = String(
        load_default=None, validate=validate.Regexp(r"^\+?[\d -]{6,30}$", error=_l("A phone number."))
    )
    currency = String(required=True, validate=THREE_DIGITS, metadata={"description": "Customs currency code."})
    freight = DecimalString(precision=14, places=2, min=Decimal(0), load_default=Decimal("0.00"))
    insured_fee = DecimalString(precision=14, places=2, min=Decimal(0), load_default=Decimal("0.00"))
    wrap_type = String(load_default="2", validate=validate.Regexp(r"^\d$", error=_l("One digit (packing type code).")))
    net_weight = DecimalString(required=True, metadata={"description": "kg"}, **WEIGHT)
    lines = fields.List(fields.Nested(ExportLineCreate), required=True, validate=validate.Length(min=1, max=100))
    parcels = fields.List(
        fields.Nested(ParcelCreate), required=True, validate=validate.Length(min=1, max=MAX_PARCELS_PER_LIST)
    )

    @validates_schema
    def consistent(self, data, **kwargs):
        if "lines" in data:
            numbers = [line["gnum"] for line in data["lines"]]
            if numbers != list(range(1, len(numbers) + 1)):
                raise ValidationError(_("Line numbers (gnum) must run 1, 2, 3, ... in order."), field_name="lines")
        if "parcels" in data:
            waybills = [parcel["waybill_no"] for parcel in data["parcels"]]
            repeated = sorted({w for w in waybills if waybills.count(w) > 1})
            if repeated:
                raise ValidationError(
                    _("Waybill numbers repeat: %(repeated)s.", repeated=", ".join(repeated[:5])), field_name="parcels"
                )
            gross = sum((parcel["gross_weight"] for parcel in data["parcels"]), Decimal(0))
            if "net_weight" in data and data["net_weight"] > gross:
                raise ValidationError(
                    _("Net weight cannot exceed the parcels' gross weight (%(gross)s kg).", gross=gross),
                    field_name="net_weight",
                )
        if data.get("trade_mode") == "1210" and not data.get("ems_no"):
            raise ValidationError(_("A 1210 bonded export names its account book."), field_name="ems_no")


class ParcelRead(Schema):
    id = BigInteger()
    waybill_no = String()
    gross_weight = DecimalString()
    stage = fields.Enum(ParcelStage, by_value=True)
    divert_reason = fields.Enum(DivertReason, by_value=True, allow_none=True)
    bag_id = BigInteger(allow_none=True)
    scanned_in_at = fields.DateTime(allow_none=True)
    line_scanned_at = fields.DateTime(allow_none=True)
    rechecked_at = fields.DateTime(allow_none=True)
    bagged_at = fields.DateTime(allow_none=True)
    departed_at = fields.DateTime(allow_none=True)


class ExportListSummary(Schema):
    id = BigInteger()
    guid = String()
    status = fields.Enum(DeclarationStatus, by_value=True)
    trade_mode = String()
    cop_no = String()
    invt_no = String(allow_none=True)
    order_no = String()
    logistics_no = String()
    ebc_name = String()
    area_name = String()
    destination_country = String(attribute="export.destination_country")
    pack_no = Integer(attribute="export.pack_no", metadata={"description": "Number of parcels."})
    goods_value = DecimalString(**MONEY)
    currency = String()
    submitted_at = fields.DateTime()
    released_at = fields.DateTime(allow_none=True)
    departed_at = fields.DateTime(attribute="export.departed_at", allow_none=True)
    return_info = String(allow_none=True, metadata={"description": "Customs' last message (e.g. why rejected)."})


class ExportListRead(ExportListSummary):
    pre_no = String(allow_none=True)
    ebp_code = String()
    ebp_name = String()
    ebc_code = String()
    agent_code = String()
    agent_name = String()
    area_code = String()
    ems_no = String(allow_none=True)
    customs_code = String()
    port_code = String()
    logistics_code = String(attribute="export.logistics_code")
    logistics_name = String(attribute="export.logistics_name")
    statistics_flag = String(attribute="export.statistics_flag")
    traf_mode = String(attribute="export.traf_mode")
    bill_no = String(attribute="export.bill_no", allow_none=True)
    destination_port = String(attribute="export.destination_port", allow_none=True)
    consignee_name = String(attribute="export.consignee_name")
    consignee_country = String(attribute="export.consignee_country")
    consignee_address = String(attribute="export.consignee_address", allow_none=True)
    consignee_telephone = String(attribute="export.consignee_telephone", allow_none=True)
    wrap_type = String(attribute="export.wrap_type")
    freight = DecimalString(**MONEY)
    insured_fee = DecimalString(**MONEY)
    gross_weight = DecimalString()
    net_weight = DecimalString()
    lines = fields.List(fields.Nested(ExportLineRead))
    parcels = fields.List(
        fields.Nested(ParcelRead),
        attribute="export.parcels",
        metadata={"description": f"Every parcel (at most {MAX_PARCELS_PER_LIST})."},
    )


class ExportListQuery(PageQuery):
    status = fields.Enum(DeclarationStatus, by_value=True)
    q = TrimmedString(
        validate=validate.Length(min=1, max=60),
        metadata={"description": "Number search: cop_no, invt_no, order or waybill number (prefix)."},
    )


ExportListPage = page_schema(ExportListSummary, "ExportListPage")
