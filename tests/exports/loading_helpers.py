"""What the recheck, loading, release and departure tests share: parcels in the stage they need, the people who
handle them, and the endpoints."""

from sqlalchemy import select

from app.declarations.models import DeclarationEvent, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.exports.models import ExportParcel, ParcelStage
from app.users.models import Role
from tests.factories import make_enterprise, make_export_list, make_user

BAGS = "/api/v1/export/bags"
CONTAINERS = "/api/v1/export/containers"
LOAD = "/api/v1/export/containers/load"
RECHECKS = "/api/v1/export/rechecks"
DEPARTURES = "/api/v1/export/departures"
EXPORT_LISTS = "/api/v1/export-lists"
# Valid ISO 6346 numbers (check digit included) and an air ULD.
CONTAINER_NOS = ("CSQU3054383", "MSKU9070323", "TGHU1234560")
ULD = "AKE12345CA"


def warehouse_enterprise(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保出口监管仓")


def operator_of(session, warehouse):
    return make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise_id=warehouse.id)


def released_list(session, warehouse, *, parcels=3, stage=ParcelStage.PASSED, **overrides):
    """A released export list of `warehouse` whose parcels passed the line (by default)."""
    overrides.setdefault("status", DeclarationStatus.RELEASED)
    return make_export_list(session, warehouse=warehouse, parcels=parcels, stage=stage, **overrides)


def waybills_of(session, declaration):
    return list(
        session.scalars(
            select(ExportParcel.waybill_no)
            .where(ExportParcel.declaration_id == declaration.id)
            .order_by(ExportParcel.id)
        )
    )


def parcel(session, waybill_no):
    session.expire_all()
    return session.scalar(select(ExportParcel).where(ExportParcel.waybill_no == waybill_no))


def steps(session, declaration, step=None):
    statement = select(DeclarationEvent).where(DeclarationEvent.declaration_id == declaration.id)
    if step is not None:
        statement = statement.where(DeclarationEvent.step == step)
    return list(session.scalars(statement.order_by(DeclarationEvent.id)))


def container_body(index=0, **overrides):
    body = {
        "container_no": CONTAINER_NOS[index],
        "traf_mode": "5",
        "voyage_no": "CA1234",
        "bill_no": "999-12345675",
        "port_code": "8013",
    }
    body.update(overrides)
    return body
