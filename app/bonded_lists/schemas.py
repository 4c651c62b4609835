"""Bonded verification lists on the wire."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.bonded_lists.models import ApprovalResult, DeductionMark, EntryStatus, ImpExp, InvtStatus
from app.common.fields import CUSTOMS_CODE, HS_CODE, BigInteger, DecimalString, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.i18n import _, _l

BOND_INVT_NO = validate.Regexp(
    r"^QD\d{4}\d{2}[IE]\d{9}$",
    error=_l("QD + customs office(4) + year(2) + I/E + serial(9), e.g. QD311124E000097136."),
)
PUTREC_NO = validate.Regexp(
    r"^[A-Z]\d{4}[A-Z]\d{6}$",
    error=_l("An account book number: letter + office(4) + letter + serial(6), e.g. T3111W000076."),
)
SUPV_MODE = validate.Regexp(r"^\d{4}$", error=_l("A 4-digit supervision mode code, e.g. 5034."))
# The 9th digit says import (1) or export (0). Across the second line it mirrors the list's I/E (goods
# leaving the zone are imported into China), so it is not compared with impexp_markcd.
ENTRY_NO = validate.Regexp(
    r"^\d{8}[01]\d{9}$",
    error=_l("An 18-digit customs declaration number: office(4) + year(4) + 1/0 (import/export) + serial(9)."),
)
UNIT = validate.Regexp(r"^\d{3}$", error=_l("A 3-digit customs unit code."))


def _positive(precision: int, places: int, **kwargs) -> DecimalString:
    """Greater than 0, within a NUMERIC(precision, places) column."""
    return DecimalString(precision=precision, places=places, min=Decimal(0), min_inclusive=False, **kwargs)


class BondedListLineCreate(Schema):
    gnum = Integer(required=True, validate=validate.Range(min=1), metadata={"description": "Line number from 1."})
    gds_mtno = TrimmedString(
        required=True, validate=validate.Length(min=1, max=32), metadata={"description": "Item no. (料号)."}
    )
    hs_code = String(required=True, validate=HS_CODE)
    name = TrimmedString(required=True, validate=validate.Length(min=1, max=250))
    qty = _positive(18, 4, required=True)
    unit = String(required=True, validate=UNIT)
    gross_wt = _positive(14, 4, required=True, metadata={"description": "kg"})
    net_wt = _positive(14, 4, required=True, metadata={"description": "kg"})

    @validates_schema
    def net_within_gross(self, data, **kwargs):
        if {"gross_wt", "net_wt"} <= data.keys() and data["net_wt"] > data["gross_wt"]:
            raise ValidationError(_("Net weight cannot exceed gross weight."), field_name="net_wt")


class BondedListLineRead(Schema):
    gnum = Integer()
    gds_mtno = String()
    hs_code = String()
    name = String()
    qty = DecimalString()
    unit = String()
    gross_wt = DecimalString()
    net_wt = DecimalString()


class BondedListCreate(Schema):
    bond_invt_no = String(
        load_default=None,
        validate=BOND_INVT_NO,
        metadata={
            "description": "The number customs gave a list declared through the Single Window; "
            "leave it out and the service numbers the list in the same layout."
        },
    )
    putrec_no = String(required=True, validate=PUTREC_NO, metadata={"description": "Account book (账册)."})
    customs_code = String(required=True, validate=CUSTOMS_CODE, metadata={"description": "Customs office."})
    impexp_markcd = fields.Enum(
        ImpExp, by_value=True, required=True, metadata={"description": "I: into the zone, E: out of it."}
    )
    supv_mode = String(required=True, validate=SUPV_MODE, metadata={"description": "Supervision mode."})
    dclcus_flag = fields.Boolean(
        required=True, metadata={"description": "Whether the goods also need a customs declaration (报关单)."}
    )
    entry_no = String(
        load_default=None,
        validate=ENTRY_NO,
        metadata={"description": "The customs declaration, when dclcus_flag; may also come with its release."},
    )
    lines = fields.List(fields.Nested(BondedListLineCreate), required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def consistent(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if "lines" in data:
            numbers = [line["gnum"] for line in data["lines"]]
            if numbers != list(range(1, len(numbers) + 1)):
                errors["lines"] = [_("Line numbers (gnum) must run 1, 2, 3, ... in order.")]
        number, office, flag = data.get("bond_invt_no"), data.get("customs_code"), data.get("impexp_markcd")
        if number and office and flag and (number[2:6] != office or number[8] != flag.value):
            errors["bond_invt_no"] = [
                _("Must carry customs office %(office)s and flag %(flag)s.", office=office, flag=flag.value)
            ]
        entry_no = data.get("entry_no")
        if entry_no and data.get("dclcus_flag") is False:
            errors["entry_no"] = [_("Only a list that needs a customs declaration (dclcus_flag) names one.")]
        if errors:
            raise ValidationError(errors)


class BondedListSummary(Schema):
    id = BigInteger()
    bond_invt_no = String(metadata={"description": "QD + customs office(4) + year(2) + I/E + serial(9)."})
    putrec_no = String()
    customs_code = String()
    impexp_markcd = fields.Enum(ImpExp, by_value=True)
    supv_mode = String()
    dclcus_flag = fields.Boolean()
    entry_no = String(allow_none=True)
    invt_stucd = fields.Enum(InvtStatus, by_value=True)
    entry_stucd = fields.Enum(
        EntryStatus, by_value=True, allow_none=True, metadata={"description": "null when no declaration is needed."}
    )
    deduction_mark = fields.Enum(DeductionMark, by_value=True)
    return_info = String(allow_none=True, metadata={"description": "Customs' last message (why rejected)."})
    declaring_enterprise_id = Integer()
    declared_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True, metadata={"description": "Approved or rejected (INV201)."})
    entry_released_at = fields.DateTime(allow_none=True)
    deducted_at = fields.DateTime(allow_none=True)
    deleted_at = fields.DateTime(allow_none=True)


class BondedListRead(BondedListSummary):
    lines = fields.List(fields.Nested(BondedListLineRead))


class BondedListQuery(PageQuery):
    invt_stucd = fields.Enum(InvtStatus, by_value=True)
    entry_stucd = fields.Enum(EntryStatus, by_value=True)
    deduction_mark = fields.Enum(DeductionMark, by_value=True)
    putrec_no = String(validate=PUTREC_NO)
    bond_invt_no = String(validate=BOND_INVT_NO)


BondedListPage = page_schema(BondedListSummary, "BondedListPage")


class ApprovalCreate(Schema):
    result = fields.Enum(ApprovalResult, by_value=True, required=True, metadata={"description": "INV201's decision."})
    return_info = TrimmedString(
        load_default=None, validate=validate.Length(max=1000), metadata={"description": "Required for a rejection."}
    )

    @validates_schema
    def reason_for_rejection(self, data, **kwargs):
        if data.get("result") is ApprovalResult.REJECTED and not data.get("return_info"):
            raise ValidationError(_("Say why customs rejected the list."), field_name="return_info")


class EntryReleaseCreate(Schema):
    entry_no = String(
        load_default=None,
        validate=ENTRY_NO,
        metadata={"description": "The released declaration; required when the list does not name one yet."},
    )
