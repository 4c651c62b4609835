"""Gates, lanes, vehicles, gate passes and passages on the wire."""

import re
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from stdnum import iso6346

from app.bonded_lists.models import DeductionMark, EntryStatus, InvtStatus
from app.common.fields import (
    CUSTOMS_CODE,
    BigInteger,
    DecimalString,
    Integer,
    PlateRead,
    String,
    TrimmedString,
    normalize_plate,
)
from app.common.pagination import PageQuery, page_schema
from app.declarations.models import DeclarationStatus
from app.gates.models import (
    BindType,
    DecisionAction,
    DecisionReason,
    Direction,
    HoldSource,
    LaneState,
    LaneType,
    PassageStatus,
    PassportType,
    PassStatus,
    VehicleClass,
)
from app.i18n import _, _l

CODE = validate.Regexp(r"^[A-Z0-9-]{1,20}$", error=_l("1-20 letters, digits or '-'."))
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Mainland plates: province, issuing-office letter (no I or O), then five characters, or six on
# new-energy plates (D/F + letter-or-digit + 4 digits for cars, 5 digits + D/F for large vehicles).
PLATE = re.compile(
    rf"^[{PROVINCES}][A-HJ-NP-Z]"
    r"(?:[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]|[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF])$"
)
IC_NO = validate.Regexp(r"^[0-9A-Z]{6,32}$", error=_l("6-32 letters or digits."))
KG = {"places": 1}


class Plate(String):
    """A mainland Chinese plate, including new-energy plates; returned without separators."""

    def _deserialize(self, value, attr, data, **kwargs):
        plate = normalize_plate(super()._deserialize(value, attr, data, **kwargs))
        if not PLATE.match(plate):
            raise ValidationError(_("Not a mainland Chinese plate, e.g. 渝A12345 or 渝AD12345."))
        return plate


class ContainerNo(String):
    """An ISO 6346 container number with a correct check digit."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if not iso6346.is_valid(raw):
            raise ValidationError(_("Not an ISO 6346 container number (4 letters, 7 digits, check digit)."))
        return iso6346.compact(raw)


class UpperCode(TrimmedString):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


def _kg(**kwargs) -> DecimalString:
    """A weight in kg as the NUMERIC(12, 1) columns hold it, up to what a weighbridge reads."""
    return DecimalString(precision=12, min=Decimal(0), max=Decimal("999999"), **KG, **kwargs)


class LaneRead(Schema):
    id = Integer()
    gate_id = Integer()
    code = String()
    lane_type = fields.Enum(LaneType, by_value=True)
    direction = fields.Enum(Direction, by_value=True)
    state = fields.Enum(LaneState, by_value=True)
    dual_gate = fields.Boolean()
    updated_at = fields.DateTime()


class LaneCreate(Schema):
    code = UpperCode(required=True, validate=CODE)
    lane_type = fields.Enum(LaneType, by_value=True, required=True)
    direction = fields.Enum(Direction, by_value=True, required=True)
    state = fields.Enum(LaneState, by_value=True, load_default=LaneState.OPEN)
    dual_gate = fields.Boolean(
        load_default=False, metadata={"description": "Two barriers in a row; the pass moves a step at each."}
    )


class LaneSwitch(Schema):
    lane_type = fields.Enum(LaneType, by_value=True)
    direction = fields.Enum(Direction, by_value=True)
    state = fields.Enum(LaneState, by_value=True)
    reason = TrimmedString(
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Why the lane is switched; kept in the switch's audit entry."},
    )

    @validates_schema
    def require_a_change(self, data, **kwargs):
        if not data.keys() & {"lane_type", "direction", "state"}:
            raise ValidationError(_("Send lane_type, direction or state, or several of them."), field_name="_schema")


class GateRead(Schema):
    id = Integer()
    code = String()
    name = String()
    customs_code = String()
    lanes = fields.List(fields.Nested(LaneRead))
    created_at = fields.DateTime()


class GateCreate(Schema):
    code = UpperCode(required=True, validate=CODE)
    name = TrimmedString(required=True, validate=validate.Length(min=2, max=100))
    customs_code = String(required=True, validate=CUSTOMS_CODE)


GatePage = page_schema(GateRead, "GatePage")


class VehicleRead(Schema):
    id = Integer()
    plate = String()
    ic_no = String(allow_none=True)
    vehicle_class = fields.Enum(VehicleClass, by_value=True)
    tare_kg = DecimalString(**KG)
    container_no = String(allow_none=True)
    enterprise_id = Integer()
    created_at = fields.DateTime()


class VehicleCreate(Schema):
    plate = Plate(required=True)
    ic_no = UpperCode(load_default=None, validate=IC_NO, metadata={"description": "Vehicle IC card (e-plate)."})
    vehicle_class = fields.Enum(VehicleClass, by_value=True, required=True)
    tare_kg = _kg(required=True)
    container_no = ContainerNo(load_default=None, metadata={"description": "ISO 6346, check digit verified."})
    enterprise_id = Integer(
        load_default=None, metadata={"description": "Owner; admins must give it, declarants get their own."}
    )


class VehicleQuery(PageQuery):
    plate = Plate()
    vehicle_class = fields.Enum(VehicleClass, by_value=True)
    enterprise_id = Integer()


VehiclePage = page_schema(VehicleRead, "VehiclePage")


class CoveredDeclaration(Schema):
    id = BigInteger()
    cop_no = String()
    invt_no = String(allow_none=True)
    status = fields.Enum(DeclarationStatus, by_value=True)


class CoveredBondedList(Schema):
    id = BigInteger()
    bond_invt_no = String()
    invt_stucd = fields.Enum(InvtStatus, by_value=True)
    entry_stucd = fields.Enum(EntryStatus, by_value=True, allow_none=True)
    deduction_mark = fields.Enum(DeductionMark, by_value=True)


class GatePassRead(Schema):
    id = BigInteger()
    passport_no = String(metadata={"description": "Z + customs office(4) + I/E + YYMMDD + serial(12)."})
    etps_preent_no = String(allow_none=True)
    passport_type = fields.Enum(PassportType, by_value=True)
    bind_type = fields.Enum(BindType, by_value=True)
    direction = fields.Enum(Direction, by_value=True)
    status = fields.Enum(PassStatus, by_value=True)
    vehicle_id = Integer()
    plate = String()
    container_no = String(allow_none=True)
    eseal_no = String(allow_none=True)
    vehicle_kg = DecimalString(**KG)
    goods_gross_kg = DecimalString(**KG)
    goods_net_kg = DecimalString(**KG)
    total_kg = DecimalString(**KG)
    enterprise_id = Integer()
    declarations = fields.List(fields.Nested(CoveredDeclaration))
    bonded_lists = fields.List(fields.Nested(CoveredBondedList), metadata={"description": "SAS121 rlt_type 1."})
    declared_at = fields.DateTime()
    approved_at = fields.DateTime(allow_none=True)
    passed_at = fields.DateTime(allow_none=True)
    voided_at = fields.DateTime(allow_none=True)
    hold_source = fields.Enum(
        HoldSource,
        by_value=True,
        allow_none=True,
        metadata={"description": "While held: gate (the operator may clear it) or customs (only customs releases it)."},
    )
    hold_reason = String(allow_none=True)
    held_at = fields.DateTime(allow_none=True)


class GatePassCreate(Schema):
    plate = Plate(required=True, metadata={"description": "A registered vehicle."})
    passport_type = fields.Enum(PassportType, by_value=True, required=True)
    bind_type = fields.Enum(BindType, by_value=True, required=True)
    direction = fields.Enum(Direction, by_value=True, required=True)
    customs_code = String(required=True, validate=CUSTOMS_CODE)
    declaration_ids = fields.List(
        BigInteger(),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "Inventory lists covered; none for checkpoint-registered goods or empty vehicles."},
    )
    bonded_list_ids = fields.List(
        BigInteger(),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "Bonded lists covered instead, for general cargo (SAS121 rlt_type 1)."},
    )
    goods_gross_kg = _kg(required=True)
    goods_net_kg = _kg(required=True)
    container_no = ContainerNo(
        load_default=None, metadata={"description": "Defaults to the vehicle's registered container."}
    )
    eseal_no = UpperCode(
        load_default=None,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Electronic seal number, when the goods travel sealed; the gate checks it."},
    )
    etps_preent_no = TrimmedString(load_default=None, validate=validate.Length(max=64))


class GatePassQuery(PageQuery):
    status = fields.Enum(PassStatus, by_value=True)
    plate = Plate()
    passport_type = fields.Enum(PassportType, by_value=True)


GatePassPage = page_schema(GatePassRead, "GatePassPage")


class PassageRead(Schema):
    id = BigInteger()
    gate_id = Integer()
    lane = fields.Nested(LaneRead)
    pass_id = BigInteger(allow_none=True)
    passport_no = fields.Function(lambda p: p.gate_pass.passport_no if p.gate_pass else None, allow_none=True)
    vehicle_id = Integer(allow_none=True)
    direction = fields.Enum(Direction, by_value=True)
    status = fields.Enum(PassageStatus, by_value=True)
    plate_read = String()
    ic_no_read = String(allow_none=True)
    container_no_read = String(allow_none=True)
    eseal_no_read = String(allow_none=True)
    weighbridge_kg = DecimalString(allow_none=True, **KG)
    expected_kg = DecimalString(allow_none=True, **KG)
    wt_error_kg = DecimalString(allow_none=True, **KG, metadata={"description": "Weighbridge minus declared."})
    reasons = fields.List(String(), metadata={"description": "Every reason the gate referred the vehicle."})
    needs = fields.List(String(), metadata={"description": "What the gate still waits for."})
    decision_reason = fields.Enum(DecisionReason, by_value=True, allow_none=True)
    decision_note = String(allow_none=True)
    arrived_at = fields.DateTime()
    weighed_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class ArrivalCreate(Schema):
    gate_id = Integer(required=True)
    direction = fields.Enum(
        Direction, by_value=True, required=True, metadata={"description": "The side of the gate it was read on."}
    )
    plate = PlateRead(required=True, metadata={"description": "As the camera read it."})
    ic_no = UpperCode(load_default=None, validate=validate.Length(min=1, max=32))
    container_no = UpperCode(
        load_default=None,
        validate=validate.Length(min=1, max=11),
        metadata={"description": "As read; a misread is compared, not rejected."},
    )
    eseal_no = UpperCode(
        load_default=None, validate=validate.Length(min=1, max=32), metadata={"description": "E-seal number as read."}
    )


class HoldCreate(Schema):
    reason = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Why customs holds the pass (the SAS224 instruction or the officer's words)."},
    )


class WeightCreate(Schema):
    weighbridge_kg = _kg(required=True)


class DecisionCreate(Schema):
    action = fields.Enum(DecisionAction, by_value=True, required=True)
    reason_code = fields.Enum(DecisionReason, by_value=True, required=True)
    note = TrimmedString(load_default=None, validate=validate.Length(max=500))


class PassageQuery(PageQuery):
    gate_id = Integer()
    lane_id = Integer()
    status = fields.Enum(PassageStatus, by_value=True)
    pass_id = BigInteger()


PassagePage = page_schema(PassageRead, "GatePassagePage")


class FiguresQuery(Schema):
    since = fields.AwareDateTime(required=True, metadata={"description": "Arrived at or after."})
    until = fields.AwareDateTime(required=True, metadata={"description": "Arrived before; at most 31 days on."})
    gate_id = Integer(metadata={"description": "One gate; all gates when left out."})

    @validates_schema
    def ordered(self, data, **kwargs):
        if {"since", "until"} <= data.keys() and data["since"] >= data["until"]:
            raise ValidationError(_("until must be after since."), field_name="until")


class ReasonCount(Schema):
    reason = String()
    count = Integer()


class FlowFigures(Schema):
    vehicles = Integer()
    vehicles_per_hour = fields.Float()
    median_decision_seconds = fields.Float(allow_none=True, metadata={"description": "Arrival to decision."})
    auto_cleared_share = fields.Float(allow_none=True, metadata={"description": "Of the decided passages."})
    top_referral_reasons = fields.List(fields.Nested(ReasonCount))


class LaneFigures(FlowFigures):
    lane_id = Integer()
    code = String()
    lane_type = fields.Enum(LaneType, by_value=True)
    direction = fields.Enum(Direction, by_value=True)


class GateFigures(FlowFigures):
    gate_id = Integer()
    code = String()
    lanes = fields.List(fields.Nested(LaneFigures))


class GateFiguresRead(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    gates = fields.List(fields.Nested(GateFigures))
