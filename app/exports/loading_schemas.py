"""Recheck, loading and zone–port linked release on the wire (the departure document is departure_schemas.py)."""

import re
from collections import Counter

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema
from stdnum import iso6346

from app.common.fields import CUSTOMS_CODE, BigInteger, DecimalString, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.exports.loading import MAX_PARCELS_PER_BAG, ParcelOutcome
from app.exports.loading_batch import MAX_BAGS_PER_LOAD, MAX_PARCELS_PER_LOAD
from app.exports.models import BagStatus, ContainerStatus, ParcelStage, RecheckDisposal
from app.exports.schemas import TRAF_MODES, WAYBILL_NO
from app.gates.schemas import Plate, UpperCode
from app.i18n import _, _l
from app.inspections.models import InspectionResult

BAG_NO = validate.Regexp(r"^[0-9A-Za-z-]{4,40}$", error=_l("4-40 letters, digits or hyphens."))
SEAL_NO = validate.Regexp(r"^[0-9A-Za-z-]{4,32}$", error=_l("4-32 letters, digits or hyphens."))
VOYAGE_NO = validate.Regexp(r"^[0-9A-Z-]{2,32}$", error=_l("A flight or train number: 2-32 capitals, digits or '-'."))
BILL_NO = validate.Regexp(r"^[0-9A-Za-z-]{4,37}$", error=_l("A master waybill: 4-37 letters, digits or '-'."))
# IATA ULD ids: type (3 letters), serial (4-5 digits), owner (2 letters or digits), e.g. AKE12345CA.
ULD = re.compile(r"^[A-Z]{3}\d{4,5}[A-Z0-9]{2}$")
MAX_BAGS_PER_REQUEST = 500
WEIGHT = {"places": 4}


class ContainerNo(String):
    """An ISO 6346 container number (check digit verified) or an air ULD id, upper case, without spaces."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = re.sub(r"\s", "", super()._deserialize(value, attr, data, **kwargs)).upper()
        if ULD.match(raw) or (len(raw) == 11 and iso6346.is_valid(raw)):
            return raw
        raise ValidationError(_("An ISO 6346 container number (e.g. CSQU3054383) or an air ULD id (e.g. AKE12345CA)."))


def _unique(values: list[str], what: str, field_name: str) -> None:
    repeated = sorted(value for value, count in Counter(values).items() if count > 1)
    if repeated:
        raise ValidationError(
            _("%(what)s repeat: %(repeated)s.", what=what, repeated=", ".join(repeated[:5])), field_name=field_name
        )


# Open-box recheck


class ParcelRecheckCreate(Schema):
    waybill_no = String(required=True, validate=WAYBILL_NO, metadata={"description": "The diverted parcel."})
    result = fields.Enum(InspectionResult, by_value=True, required=True)
    disposal = fields.Enum(
        RecheckDisposal,
        by_value=True,
        load_default=None,
        metadata={"description": "release (default for a normal result), hold or return_to_shipper."},
    )
    notes = TrimmedString(load_default=None, validate=validate.Length(max=2000))

    @validates_schema
    def disposal_fits_result(self, data, **kwargs):
        result, disposal = data.get("result"), data.get("disposal")
        if result is InspectionResult.NORMAL and disposal not in (None, RecheckDisposal.RELEASE):
            raise ValidationError(
                _("A parcel found normal is released; leave the disposal out."), field_name="disposal"
            )
        if result is InspectionResult.ABNORMAL and disposal in (None, RecheckDisposal.RELEASE):
            raise ValidationError(_("An abnormal parcel is held or returned to the shipper."), field_name="disposal")

    @post_load
    def release_when_normal(self, data, **kwargs):
        data["disposal"] = data["disposal"] or RecheckDisposal.RELEASE
        return data


class ParcelRecheckRead(Schema):
    id = BigInteger()
    parcel_id = BigInteger()
    waybill_no = String(attribute="parcel.waybill_no")
    declaration_id = BigInteger(attribute="parcel.declaration_id")
    parcel_stage = fields.Enum(ParcelStage, by_value=True, attribute="parcel.stage")
    task_id = BigInteger(allow_none=True, metadata={"description": "The inspection task its photos are on."})
    officer_id = Integer()
    result = String(
        validate=validate.OneOf([result.value for result in InspectionResult]),
        metadata={"description": "normal or abnormal."},
    )
    disposal = fields.Enum(RecheckDisposal, by_value=True)
    notes = String(allow_none=True)
    recorded_at = fields.DateTime()


ParcelRecheckPage = page_schema(ParcelRecheckRead, "ParcelRecheckPage")


# Bags


class BagCreate(Schema):
    bag_no = String(required=True, validate=BAG_NO, metadata={"description": "The master bag's label (总包号)."})


class BagRead(Schema):
    id = BigInteger()
    bag_no = String()
    status = fields.Enum(BagStatus, by_value=True)
    warehouse_enterprise_id = Integer()
    container_id = BigInteger(allow_none=True)
    parcel_count = Integer()
    gross_weight = DecimalString(**WEIGHT, metadata={"description": "kg"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class _Waybill(Schema):
    waybill_no = String()


class BagDetail(BagRead):
    waybills = fields.Pluck(
        _Waybill,
        "waybill_no",
        many=True,
        attribute="parcels",
        metadata={"description": f"At most {MAX_PARCELS_PER_BAG}, in bagging order."},
    )


class BagQuery(PageQuery):
    status = fields.Enum(BagStatus, by_value=True)
    container_id = BigInteger()


BagPage = page_schema(BagRead, "BagPage")


class Waybills(Schema):
    waybills = fields.List(
        String(validate=WAYBILL_NO),
        required=True,
        validate=validate.Length(min=1, max=MAX_PARCELS_PER_BAG),
        metadata={"description": "The waybill numbers scanned off the parcels."},
    )

    @validates_schema
    def distinct(self, data, **kwargs):
        _unique(data.get("waybills", []), "Waybill numbers", "waybills")


class ParcelResult(Schema):
    waybill_no = String()
    outcome = fields.Enum(ParcelOutcome, by_value=True)


class BagScanRead(Schema):
    bag = fields.Nested(BagRead)
    results = fields.List(fields.Nested(ParcelResult), metadata={"description": "One per waybill sent, in order."})


# Containers


class ContainerCreate(Schema):
    container_no = ContainerNo(required=True)
    traf_mode = String(required=True, validate=validate.OneOf(TRAF_MODES), metadata={"description": "5: air."})
    voyage_no = String(required=True, validate=VOYAGE_NO, metadata={"description": "Flight or train number."})
    bill_no = String(required=True, validate=BILL_NO, metadata={"description": "Master waybill (总运单)."})
    port_code = String(
        required=True, validate=CUSTOMS_CODE, metadata={"description": "The port customs it leaves the country by."}
    )


class ContainerSummary(Schema):
    id = BigInteger()
    container_no = String()
    seal_no = String(allow_none=True)
    status = fields.Enum(ContainerStatus, by_value=True)
    warehouse_enterprise_id = Integer()
    traf_mode = String()
    voyage_no = String(allow_none=True)
    bill_no = String(allow_none=True)
    port_code = String()
    gate_pass_id = BigInteger(allow_none=True)
    created_at = fields.DateTime()
    sealed_at = fields.DateTime(allow_none=True)
    left_zone_at = fields.DateTime(allow_none=True)
    departed_at = fields.DateTime(allow_none=True)


class ContainerRead(ContainerSummary):
    bags = fields.List(fields.Nested(BagRead))


class ContainerQuery(PageQuery):
    status = fields.Enum(ContainerStatus, by_value=True)
    bill_no = String(validate=BILL_NO)


ContainerPage = page_schema(ContainerSummary, "ContainerPage")


class BagNos(Schema):
    bag_nos = fields.List(
        String(validate=BAG_NO), required=True, validate=validate.Length(min=1, max=MAX_BAGS_PER_REQUEST)
    )

    @validates_schema
    def distinct(self, data, **kwargs):
        _unique(data.get("bag_nos", []), "Bag numbers", "bag_nos")


class BagResult(Schema):
    bag_no = String()
    outcome = String(
        metadata={"description": "loaded, already_loaded, in_another_container, not_closed or unknown_bag."}
    )


class ContainerBagsRead(Schema):
    container = fields.Nested(ContainerRead)
    results = fields.List(fields.Nested(BagResult))


class SealCreate(Schema):
    seal_no = UpperCode(required=True, validate=SEAL_NO, metadata={"description": "The seal (封志) number."})


class LoadBag(Schema):
    bag_no = String(required=True, validate=BAG_NO)
    waybills = fields.List(
        String(validate=WAYBILL_NO), required=True, validate=validate.Length(min=1, max=MAX_PARCELS_PER_BAG)
    )


class ContainerLoadCreate(ContainerCreate):
    seal_no = UpperCode(
        load_default=None, validate=SEAL_NO, metadata={"description": "Given: the container is sealed once loaded."}
    )
    bags = fields.List(
        fields.Nested(LoadBag),
        required=True,
        validate=validate.Length(min=1, max=MAX_BAGS_PER_LOAD),
        metadata={"description": f"Up to {MAX_PARCELS_PER_LOAD} parcels in all."},
    )

    @validates_schema
    def consistent(self, data, **kwargs):
        bags = data.get("bags", [])
        _unique([bag["bag_no"] for bag in bags], "Bag numbers", "bags")
        waybills = [waybill for bag in bags for waybill in bag["waybills"]]
        if len(waybills) > MAX_PARCELS_PER_LOAD:
            raise ValidationError(
                _("At most %(max_parcels_per_load)s parcels in one load.", max_parcels_per_load=MAX_PARCELS_PER_LOAD),
                field_name="bags",
            )
        _unique(waybills, "Waybill numbers", "bags")


class LoadRefusal(Schema):
    bag_no = String()
    waybill_no = String()
    outcome = fields.Enum(ParcelOutcome, by_value=True)


class BagRefusal(Schema):
    bag_no = String()
    reason = String(metadata={"description": "bag_no_taken or no_parcel_loadable."})


class ContainerLoadRead(Schema):
    container = fields.Nested(ContainerRead)
    loaded = Integer(metadata={"description": "Parcels loaded."})
    refused = fields.List(fields.Nested(LoadRefusal), metadata={"description": "Each parcel left out, and why."})
    refused_bags = fields.List(fields.Nested(BagRefusal))


# Zone–port linked release


class ContainerGatePassCreate(Schema):
    plate = Plate(
        required=True, metadata={"description": "The vehicle taking the container out; registered as ecommerce_van."}
    )
    customs_code = String(
        load_default=None,
        validate=CUSTOMS_CODE,
        metadata={"description": "The gate's customs office; by default the lists' own."},
    )


class PortRecordRead(Schema):
    container_id = BigInteger()
    sent_at = fields.DateTime(metadata={"description": "When the record went to the port."})
    gateway = String(metadata={"description": "The port gateway it went through (local: the stand-in)."})
    port_reference = String(allow_none=True, metadata={"description": "The port's reference for it."})
    record = fields.Dict(
        keys=String(),
        metadata={
            "description": "What the port received: record_no, container (number, seal, voyage, bill), gate (pass, "
            "lane), bags with their waybills, lists, zone_inspection (done, by line or recheck) and totals."
        },
    )
