"""Vehicles: an enterprise's registered trucks and vans, with the plate, IC card (e-plate), class and tare weight the
gate reads and weighs them by."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.common.pagination import Page, paginate, where_given
from app.enterprises.models import Enterprise
from app.errors import InvalidInput, NotFound
from app.gates.errors import PlateTaken
from app.gates.models import Vehicle, VehicleClass
from app.gates.rules import STAFF
from app.i18n import _
from app.users.models import Role, User


def _vehicles_visible_to(viewer: User) -> ColumnElement[bool]:
    if viewer.role in STAFF:
        return true()
    if viewer.enterprise_id is not None:
        return Vehicle.enterprise_id == viewer.enterprise_id
    return false()


def register_vehicle(
    session: Session,
    *,
    registrant: User,
    actor: Actor,
    plate: str,
    vehicle_class: VehicleClass,
    tare_kg: Decimal,
    ic_no: str | None = None,
    container_no: str | None = None,
    enterprise_id: int | None = None,
) -> Vehicle:
    """Register a vehicle for an enterprise: a declarant for their own, an admin for any."""
    if registrant.role is Role.ADMIN:
        if enterprise_id is None:
            raise InvalidInput.of_field("enterprise_id", _("Name the enterprise that owns the vehicle."))
        if session.get(Enterprise, enterprise_id) is None:
            raise InvalidInput.of_field(
                "enterprise_id", _("Enterprise %(enterprise_id)s does not exist.", enterprise_id=enterprise_id)
            )
        owner_id = enterprise_id
    elif registrant.enterprise_id is not None and enterprise_id in (None, registrant.enterprise_id):
        owner_id = registrant.enterprise_id
    else:
        raise InvalidInput.of_field("enterprise_id", _("You may register vehicles of your own enterprise only."))
    if session.scalar(select(Vehicle.id).where(Vehicle.plate == plate)) is not None:
        raise PlateTaken(
            _("Vehicle %(plate)s is already registered.", plate=plate),
            errors={"json": {"plate": [_("Already registered.")]}},
        )
    if ic_no and session.scalar(select(Vehicle.id).where(Vehicle.ic_no == ic_no)) is not None:
        raise PlateTaken(
            _("IC card %(ic_no)s belongs to another vehicle.", ic_no=ic_no),
            errors={"json": {"ic_no": [_("Already used.")]}},
        )
    vehicle = Vehicle(
        plate=plate,
        ic_no=ic_no,
        vehicle_class=vehicle_class,
        tare_kg=tare_kg,
        container_no=container_no,
        enterprise_id=owner_id,
    )
    session.add(vehicle)
    session.flush()
    audit.record(
        session,
        action="gate.vehicle_registered",
        actor=actor,
        target=vehicle,
        details={"plate": plate, "enterprise_id": owner_id, "vehicle_class": vehicle_class.value},
    )
    return vehicle


def get_vehicle_for(session: Session, vehicle_id: int, *, viewer: User) -> Vehicle:
    """A vehicle as `viewer` may see it, or NotFound."""
    vehicle = session.scalar(select(Vehicle).where(Vehicle.id == vehicle_id, _vehicles_visible_to(viewer)))
    if vehicle is None:
        raise NotFound(_("Vehicle %(vehicle_id)s does not exist.", vehicle_id=vehicle_id))
    return vehicle


def find_vehicle_by_plate(session: Session, plate: str) -> Vehicle | None:
    """A registered vehicle by plate, or None."""
    return session.scalar(select(Vehicle).where(Vehicle.plate == plate))


def list_vehicles(
    session: Session,
    *,
    viewer: User,
    plate: str | None = None,
    vehicle_class: VehicleClass | None = None,
    enterprise_id: int | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Vehicle]:
    """Vehicles the viewer may see, newest first."""
    statement = where_given(
        select(Vehicle).where(_vehicles_visible_to(viewer)),
        (Vehicle.plate, plate),
        (Vehicle.vehicle_class, vehicle_class),
        (Vehicle.enterprise_id, enterprise_id),
    )
    return paginate(session, statement, key=Vehicle.id, cursor=cursor, limit=limit)
