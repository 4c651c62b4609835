"""Gate passes (核放单, DOMAIN.md §3.3): a declarant declares one binding a vehicle to the lists it carries (SAS121)
and may void it; customs approves (SAS221) or holds it (SAS224). Also what the gate's decisions use: putting a pass on
hold, lifting the hold, and deducting bonded lists once their last vehicle is through."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, false, func, select, true
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.audit.service import Actor
from app.bonded_lists import service as bonded_lists
from app.bonded_lists.models import BondedList, DeductionMark, ImpExp
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import Declaration
from app.declarations.status import InvalidTransition
from app.errors import InvalidInput, NotFound
from app.gates.errors import VehicleHasLivePass
from app.gates.models import (
    BindType,
    Direction,
    GatePass,
    GatePassBondedList,
    PassportType,
    PassStatus,
    Vehicle,
)
from app.gates.passage import find_open_passage
from app.gates.rules import DEAD_DECLARATION, LIVE_PASS, PASS_WIDE
from app.i18n import _
from app.infra.statements import cached_statement
from app.users.models import Role, User

SHANGHAI = ZoneInfo("Asia/Shanghai")
P = PassStatus
# Types that declare goods under inventory lists, and which of them need the lists released first.
NEEDS_DECLARATIONS = frozenset({PassportType.FIRST_LINE, PassportType.SECOND_LINE})
NO_DECLARATIONS = frozenset({PassportType.EMPTY_VEHICLE, PassportType.NON_DECLARED})
# A bonded list's I/E flag is the direction its goods cross the zone's gate.
LIST_DIRECTION = {ImpExp.IMPORT: Direction.IN, ImpExp.EXPORT: Direction.OUT}


def _passes_visible_to(viewer: User) -> ColumnElement[bool]:
    if viewer.role in PASS_WIDE:
        return true()
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        return GatePass.enterprise_id == viewer.enterprise_id
    return false()


def declare_pass(
    session: Session,
    *,
    declarant: User,
    actor: Actor,
    plate: str,
    passport_type: PassportType,
    bind_type: BindType,
    direction: Direction,
    customs_code: str,
    goods_gross_kg: Decimal,
    goods_net_kg: Decimal,
    declaration_ids: Sequence[int] = (),
    bonded_list_ids: Sequence[int] = (),
    container_no: str | None = None,
    eseal_no: str | None = None,
    etps_preent_no: str | None = None,
) -> GatePass:
    """A declarant declares a gate pass binding a registered vehicle to goods (SAS121, dcl_type 1)."""
    if declarant.enterprise_id is None:
        raise InvalidInput(_("Only a declarant of an enterprise can declare gate passes."))
    vehicle = session.scalar(select(Vehicle).where(Vehicle.plate == plate).with_for_update())
    if vehicle is None:
        raise InvalidInput.of_field("plate", _("No vehicle %(plate)s is registered; register it first.", plate=plate))
    if declaration_ids and bonded_list_ids:
        raise InvalidInput.of_field("bonded_list_ids", _("A pass covers inventory lists or bonded lists, not both."))
    covered_lists: list[BondedList] = []
    if bonded_list_ids:
        covered = []
        covered_lists = _covered_bonded_lists(session, declarant, passport_type, bind_type, direction, bonded_list_ids)
    else:
        covered = _covered_declarations(session, declarant, passport_type, bind_type, declaration_ids)
    if passport_type is PassportType.EMPTY_VEHICLE and (goods_gross_kg or goods_net_kg):
        raise InvalidInput.of_field("goods_gross_kg", _("An empty vehicle declares no goods weight."))
    if goods_net_kg > goods_gross_kg:
        raise InvalidInput.of_field("goods_net_kg", _("Net weight cannot exceed gross weight."))
    live = session.scalar(
        select(GatePass.passport_no).where(GatePass.vehicle_id == vehicle.id, GatePass.status.in_(LIVE_PASS))
    )
    if live is not None:
        raise VehicleHasLivePass(
            _(
                "Vehicle %(plate)s already has gate pass %(live)s in play; void it or let it pass first.",
                plate=plate,
                live=live,
            ),
            errors={"json": {"plate": [_("Already has a gate pass in play.")]}},
        )
    now = clock.utcnow()
    gate_pass = GatePass(
        # The number embeds the row id, which only the INSERT yields; a random value holds the
        # unique column until then.
        passport_no=secrets.token_hex(16),
        etps_preent_no=etps_preent_no,
        passport_type=passport_type,
        bind_type=bind_type,
        direction=direction,
        status=P.DECLARED,
        vehicle=vehicle,
        plate=vehicle.plate,
        container_no=container_no if container_no is not None else vehicle.container_no,
        eseal_no=eseal_no,
        vehicle_kg=vehicle.tare_kg,
        goods_gross_kg=goods_gross_kg,
        goods_net_kg=goods_net_kg,
        total_kg=vehicle.tare_kg + goods_gross_kg,
        enterprise_id=declarant.enterprise_id,
        declared_by_id=declarant.id,
        declared_at=now,
        declarations=covered,
        bonded_lists=covered_lists,
    )
    session.add(gate_pass)
    session.flush()
    gate_pass.passport_no = _passport_number(customs_code, direction, now, gate_pass.id)
    for declaration in covered:
        declaration_status.record_event(
            session,
            declaration,
            step="gate_pass_declared",
            title=f"核放单已申报：{gate_pass.passport_no}（{plate}）",
            status_changed=False,
            actor=declarant,
            details={"pass_id": gate_pass.id, "passport_no": gate_pass.passport_no, "plate": plate},
        )
    audit.record(
        session,
        action="gate.pass_declared",
        actor=actor,
        target=gate_pass,
        details={
            "passport_no": gate_pass.passport_no,
            "declaration_ids": [d.id for d in covered],
            "bonded_list_ids": [b.id for b in covered_lists],
        },
    )
    return gate_pass


def _covered_declarations(
    session: Session,
    declarant: User,
    passport_type: PassportType,
    bind_type: BindType,
    declaration_ids: Sequence[int],
) -> list[Declaration]:
    ids = list(dict.fromkeys(declaration_ids))
    _check_binding("declaration_ids", "declaration", passport_type, bind_type, ids)
    found = list(
        session.scalars(
            select(Declaration)
            .where(Declaration.id.in_(ids), declarations.visible_to(declarant))
            .order_by(Declaration.id)
        )
    )
    missing = sorted(set(ids) - {declaration.id for declaration in found})
    if missing:
        raise InvalidInput.of_field(
            "declaration_ids", _("No declarations of yours with ids %(missing)s.", missing=missing)
        )
    dead = [declaration.id for declaration in found if declaration.status in DEAD_DECLARATION]
    if dead:
        raise InvalidInput.of_field(
            "declaration_ids", _("Declarations %(dead)s were rejected, cancelled or shipped back.", dead=dead)
        )
    return found


def _covered_bonded_lists(
    session: Session,
    declarant: User,
    passport_type: PassportType,
    bind_type: BindType,
    direction: Direction,
    bonded_list_ids: Sequence[int],
) -> list[BondedList]:
    ids = list(dict.fromkeys(bonded_list_ids))
    _check_binding("bonded_list_ids", "bonded list", passport_type, bind_type, ids)
    found = list(
        session.scalars(
            select(BondedList).where(BondedList.id.in_(ids), bonded_lists.visible_to(declarant)).order_by(BondedList.id)
        )
    )
    missing = sorted(set(ids) - {bonded_list.id for bonded_list in found})
    if missing:
        raise InvalidInput.of_field(
            "bonded_list_ids", _("No bonded lists of yours with ids %(missing)s.", missing=missing)
        )
    dead = [b.bond_invt_no for b in found if b.invt_stucd in bonded_lists.DEAD]
    if dead:
        raise InvalidInput.of_field("bonded_list_ids", _("Bonded lists %(dead)s were rejected or deleted.", dead=dead))
    # Deducted means every vehicle has passed: a pass declared later would carry goods the book no longer holds.
    done = [b.bond_invt_no for b in found if b.deduction_mark is DeductionMark.DEDUCTED]
    if done:
        raise InvalidInput.of_field(
            "bonded_list_ids", _("Bonded lists %(done)s are deducted; their goods are through the gate.", done=done)
        )
    wrong_way = [b.bond_invt_no for b in found if LIST_DIRECTION[b.impexp_markcd] is not direction]
    if wrong_way:
        raise InvalidInput.of_field(
            "bonded_list_ids",
            _("Bonded lists %(wrong_way)s move goods the other way (I in, E out).", wrong_way=wrong_way),
        )
    return found


def _check_binding(field: str, noun: str, passport_type: PassportType, bind_type: BindType, ids: list[int]) -> None:
    if passport_type in NO_DECLARATIONS and ids:
        raise InvalidInput.of_field(
            field, _("A %(passport_type)s pass covers no %(noun)ss.", passport_type=passport_type.value, noun=noun)
        )
    if passport_type in NEEDS_DECLARATIONS and not ids:
        raise InvalidInput.of_field(
            field,
            _(
                "A %(passport_type)s pass must name the declarations or bonded lists it covers.",
                passport_type=passport_type.value,
            ),
        )
    if bind_type is not BindType.ONE_VEHICLE_MANY_LISTS and len(ids) > 1:
        raise InvalidInput.of_field(
            field, _("Binding %(bind_type)s covers one %(noun)s.", bind_type=bind_type.value, noun=noun)
        )


def _passport_number(customs_code: str, direction: Direction, when: datetime, serial: int) -> str:
    # Z + customs office(4) + I/E + YYMMDD + serial(12): SAS121's passport_no layout.
    flag = "I" if direction is Direction.IN else "E"
    return f"Z{customs_code}{flag}{when.astimezone(SHANGHAI):%y%m%d}{serial:012d}"


def get_pass_for(session: Session, pass_id: int, *, viewer: User, lock: bool = False) -> GatePass:
    """A gate pass as `viewer` may see it, or NotFound."""
    statement = (
        select(GatePass)
        .where(GatePass.id == pass_id, _passes_visible_to(viewer))
        .options(selectinload(GatePass.declarations), selectinload(GatePass.bonded_lists))
    )
    if lock:
        statement = statement.with_for_update(of=GatePass).execution_options(populate_existing=True)
    gate_pass = session.scalar(statement)
    if gate_pass is None:
        raise NotFound(_("Gate pass %(pass_id)s does not exist.", pass_id=pass_id))
    return gate_pass


def list_passes(
    session: Session,
    *,
    viewer: User,
    status: PassStatus | None = None,
    plate: str | None = None,
    passport_type: PassportType | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[GatePass]:
    """Gate passes the viewer may see, newest first."""
    statement = where_given(
        select(GatePass)
        .where(_passes_visible_to(viewer))
        .options(selectinload(GatePass.declarations), selectinload(GatePass.bonded_lists)),
        (GatePass.status, status),
        (GatePass.plate, plate),
        (GatePass.passport_type, passport_type),
    )
    return paginate(session, statement, key=GatePass.id, cursor=cursor, limit=limit)


def in_flight_by_status(session: Session, *, viewer: User) -> dict[PassStatus, int]:
    """The viewer's passes still in play (declared, approved, held, through gate 1), by status."""
    counts = dict.fromkeys(LIVE_PASS, 0)
    if viewer.role in PASS_WIDE:
        rows = session.execute(_in_flight_counts(wide=True))
    elif viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        rows = session.execute(_in_flight_counts(wide=False), {"enterprise_id": viewer.enterprise_id})
    else:
        return counts  # sees no pass (as _passes_visible_to)
    counts.update({key: count for key, count in rows})
    return counts


# Every declarant's home screen runs this: built once, not per request.
@cached_statement
def _in_flight_counts(*, wide: bool) -> Select[Any]:
    mine = true() if wide else GatePass.enterprise_id == bindparam("enterprise_id")
    return select(GatePass.status, func.count()).where(mine, GatePass.status.in_(LIVE_PASS)).group_by(GatePass.status)


def void_pass(session: Session, pass_id: int, *, declarant: User, actor: Actor) -> GatePass:
    """The declarant withdraws a pass the vehicle has not used (SAS121, dcl_type 3)."""
    gate_pass = get_pass_for(session, pass_id, viewer=declarant, lock=True)
    if gate_pass.status is P.VOIDED:
        return gate_pass
    if gate_pass.status not in (P.DECLARED, P.APPROVED):
        raise InvalidTransition(
            _(
                "Gate pass %(passport_no)s is %(status)s; only a declared or approved pass can be voided.",
                passport_no=gate_pass.passport_no,
                status=gate_pass.status.value,
            )
        )
    if find_open_passage(session, gate_pass.id) is not None:
        raise InvalidTransition(
            _("The vehicle of gate pass %(passport_no)s is at a gate now.", passport_no=gate_pass.passport_no)
        )
    gate_pass.status = P.VOIDED
    gate_pass.voided_at = clock.utcnow()
    audit.record(session, action="gate.pass_voided", actor=actor, target=gate_pass)
    if gate_pass.bonded_lists:
        # The vehicle that will not come may have been the last one a list waited for.
        settle_bonded_lists(session, gate_pass, actor=actor, at=gate_pass.voided_at)
    return gate_pass


def settle_bonded_lists(session: Session, gate_pass: GatePass, *, actor: Actor, at: datetime) -> None:
    """Deduct each bonded list on the pass once a vehicle has passed on it and no live pass covers it (INV211)."""
    # The list locks come first: two last vehicles passing at once then settle one after the other,
    # and the second sees the first one's pass as passed.
    locked = bonded_lists.lock_for_deduction(session, [b.id for b in gate_pass.bonded_lists])
    statuses: defaultdict[int, set[PassStatus]] = defaultdict(lambda: {gate_pass.status})
    # Other passes only: under weigh's no_autoflush the database still has this one as it was.
    for bonded_list_id, status in session.execute(
        select(GatePassBondedList.bonded_list_id, GatePass.status)
        .join(GatePass, GatePass.id == GatePassBondedList.pass_id)
        .where(GatePassBondedList.bonded_list_id.in_([b.id for b in locked]), GatePass.id != gate_pass.id)
    ):
        statuses[bonded_list_id].add(status)
    for bonded_list in locked:
        seen = statuses[bonded_list.id]
        if P.PASSED in seen and seen.isdisjoint(LIVE_PASS):
            bonded_lists.deduct(session, bonded_list, actor=actor, at=at)
