"""Bonded verification lists (核注清单, INV101, DOMAIN.md §2): declaration, customs' decision (INV201), the
release of the customs declaration they need, and the deduction once the goods are through the gate (INV211).

General cargo moves on these lists rather than on 1210 inventory lists; a gate pass covers them with
SAS121 rlt_type 1, and app.gates asks `passage_blocker` before approving one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.audit.service import Actor
from app.bonded_lists.models import (
    ApprovalResult,
    BondedList,
    BondedListLine,
    DeductionMark,
    EntryStatus,
    ImpExp,
    InvtStatus,
)
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.status import InvalidTransition
from app.errors import Conflict, InvalidInput, NotFound
from app.i18n import _, _l
from app.users.models import Role, User

SHANGHAI = ZoneInfo("Asia/Shanghai")
INV = InvtStatus
# Customs and its gateway must find every list: INV201 and the entry's release arrive through them.
SEES_ALL = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY})
DEAD = frozenset({INV.REJECTED, INV.DELETED})


class BondInvtNoTaken(Conflict):
    code, title = "bond_invt_no_taken", _l("Bonded list number already used")


def visible_to(viewer: User) -> ColumnElement[bool]:
    """The bonded lists a user may see: their enterprise's, or all for customs and admins."""
    if viewer.role in SEES_ALL:
        return true()
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        return BondedList.declaring_enterprise_id == viewer.enterprise_id
    return false()


def get_bonded_list_for(
    session: Session, bonded_list_id: int, *, viewer: User, with_lines: bool = False, lock: bool = False
) -> BondedList:
    """A bonded list as `viewer` may see it; someone else's is simply not there (404)."""
    statement = select(BondedList).where(BondedList.id == bonded_list_id, visible_to(viewer))
    if with_lines:
        statement = statement.options(selectinload(BondedList.lines))
    if lock:
        statement = statement.with_for_update(of=BondedList).execution_options(populate_existing=True)
    bonded_list = session.scalar(statement)
    if bonded_list is None:
        raise NotFound(_("Bonded list %(bonded_list_id)s does not exist.", bonded_list_id=bonded_list_id))
    return bonded_list


def find_bonded_list_by_number(session: Session, bond_invt_no: str) -> BondedList | None:
    """A bonded list by its number, or None."""
    return session.scalar(select(BondedList).where(BondedList.bond_invt_no == bond_invt_no))


def list_bonded_lists(
    session: Session,
    *,
    viewer: User,
    invt_stucd: InvtStatus | None = None,
    entry_stucd: EntryStatus | None = None,
    deduction_mark: DeductionMark | None = None,
    putrec_no: str | None = None,
    bond_invt_no: str | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[BondedList]:
    """Bonded lists the viewer may see, newest first."""
    statement = where_given(
        select(BondedList).where(visible_to(viewer)),
        (BondedList.invt_stucd, invt_stucd),
        (BondedList.entry_stucd, entry_stucd),
        (BondedList.deduction_mark, deduction_mark),
        (BondedList.putrec_no, putrec_no),
        (BondedList.bond_invt_no, bond_invt_no),
    )
    return paginate(session, statement, key=BondedList.id, cursor=cursor, limit=limit)


def declare(
    session: Session,
    *,
    declarant: User,
    actor: Actor,
    putrec_no: str,
    customs_code: str,
    impexp_markcd: ImpExp,
    supv_mode: str,
    dclcus_flag: bool,
    lines: Sequence[dict[str, Any]],
    bond_invt_no: str | None = None,
    entry_no: str | None = None,
) -> BondedList:
    """A declarant declares a bonded list (INV101) for their enterprise.

    A list already declared through the Single Window keeps the number customs gave it; otherwise
    the service numbers it in customs' layout, with the row id as serial.
    """
    if declarant.enterprise_id is None:
        raise InvalidInput(_("Only a declarant of an enterprise can declare bonded lists."))
    if bond_invt_no is not None:
        _ensure_number_free(session, bond_invt_no)
    now = clock.utcnow()
    bonded_list = BondedList(
        # The assigned number embeds the row id, which only the INSERT yields; a random value
        # holds the unique column until then (hex never starts with QD, so it meets no real number).
        bond_invt_no=bond_invt_no or secrets.token_hex(9),
        putrec_no=putrec_no,
        customs_code=customs_code,
        impexp_markcd=impexp_markcd,
        supv_mode=supv_mode,
        dclcus_flag=dclcus_flag,
        entry_no=entry_no,
        invt_stucd=INV.DECLARED,
        entry_stucd=EntryStatus.NOT_RELEASED if dclcus_flag else None,
        deduction_mark=DeductionMark.NOT_DEDUCTED,
        declaring_enterprise_id=declarant.enterprise_id,
        declared_by_id=declarant.id,
        declared_at=now,
        lines=[BondedListLine(**line) for line in lines],
    )
    session.add(bonded_list)
    session.flush()
    if bond_invt_no is None:
        number = _bond_invt_number(customs_code, impexp_markcd, now, bonded_list.id)
        _ensure_number_free(session, number)
        bonded_list.bond_invt_no = number
    audit.record(
        session,
        action="bonded_list.declared",
        actor=actor,
        target=bonded_list,
        details={
            "bond_invt_no": bonded_list.bond_invt_no,
            "putrec_no": putrec_no,
            "dclcus_flag": dclcus_flag,
            "entry_no": entry_no,
        },
    )
    return bonded_list


def _ensure_number_free(session: Session, bond_invt_no: str) -> None:
    taken = session.scalar(select(BondedList.id).where(BondedList.bond_invt_no == bond_invt_no))
    if taken is not None:
        raise BondInvtNoTaken(
            _(
                "Bonded list number %(bond_invt_no)s is already used (bonded list %(taken)s).",
                bond_invt_no=bond_invt_no,
                taken=taken,
            ),
            errors={"json": {"bond_invt_no": [_("Already used.")]}},
        )


def _bond_invt_number(customs_code: str, impexp_markcd: ImpExp, when: datetime, serial: int) -> str:
    # QD + customs office(4) + year(2) + I/E + serial(9): INV101's bond_invt_no layout.
    return f"QD{customs_code}{when.astimezone(SHANGHAI):%y}{impexp_markcd.value}{serial:09d}"


def delete(session: Session, bonded_list_id: int, *, declarant: User, actor: Actor) -> BondedList:
    """The declarant withdraws a list customs has not decided on yet (invt_stucd 3)."""
    bonded_list = get_bonded_list_for(session, bonded_list_id, viewer=declarant, with_lines=True, lock=True)
    if bonded_list.invt_stucd is INV.DELETED:
        return bonded_list  # a retried request
    if bonded_list.invt_stucd is not INV.DECLARED:
        raise InvalidTransition(
            _(
                "Bonded list %(bond_invt_no)s is %(invt_stucd)s; only a declared list can be deleted.",
                bond_invt_no=bonded_list.bond_invt_no,
                invt_stucd=bonded_list.invt_stucd.value,
            )
        )
    bonded_list.invt_stucd = INV.DELETED
    bonded_list.deleted_at = clock.utcnow()
    audit.record(session, action="bonded_list.deleted", actor=actor, target=bonded_list)
    return bonded_list


def record_approval(
    session: Session,
    bonded_list_id: int,
    *,
    result: ApprovalResult,
    approver: User,
    actor: Actor,
    return_info: str | None = None,
) -> BondedList:
    """Customs' decision on a declared list (INV201): approved, or rejected with a reason."""
    bonded_list = get_bonded_list_for(session, bonded_list_id, viewer=approver, with_lines=True, lock=True)
    wanted = INV.APPROVED if result is ApprovalResult.APPROVED else INV.REJECTED
    if bonded_list.invt_stucd is wanted:
        return bonded_list  # the receipt arrived twice
    if bonded_list.invt_stucd is not INV.DECLARED:
        raise InvalidTransition(
            _(
                "Bonded list %(bond_invt_no)s is %(invt_stucd)s; customs decides only on a declared list.",
                bond_invt_no=bonded_list.bond_invt_no,
                invt_stucd=bonded_list.invt_stucd.value,
            )
        )
    bonded_list.invt_stucd = wanted
    bonded_list.decided_at = clock.utcnow()
    bonded_list.return_info = return_info
    audit.record(
        session,
        action=f"bonded_list.{wanted.value}",
        actor=actor,
        target=bonded_list,
        details={"return_info": return_info} if return_info else None,
    )
    return bonded_list


def release_entry(
    session: Session, bonded_list_id: int, *, officer: User, actor: Actor, entry_no: str | None = None
) -> BondedList:
    """Customs released the customs declaration a list needs (entry_stucd 1); it may name the declaration now."""
    bonded_list = get_bonded_list_for(session, bonded_list_id, viewer=officer, with_lines=True, lock=True)
    number = bonded_list.bond_invt_no
    if not bonded_list.dclcus_flag:
        raise InvalidTransition(
            _("Bonded list %(number)s needs no customs declaration, so there is none to release.", number=number)
        )
    if entry_no is not None and bonded_list.entry_no not in (None, entry_no):
        raise InvalidInput.of_field(
            "entry_no",
            _(
                "Bonded list %(number)s names customs declaration %(entry_no)s.",
                number=number,
                entry_no=bonded_list.entry_no,
            ),
        )
    if bonded_list.entry_stucd is EntryStatus.RELEASED:
        return bonded_list  # the release arrived twice
    if bonded_list.invt_stucd in DEAD:
        raise InvalidTransition(
            _("Bonded list %(number)s is %(invt_stucd)s.", number=number, invt_stucd=bonded_list.invt_stucd.value)
        )
    entry_no = entry_no or bonded_list.entry_no
    if entry_no is None:
        raise InvalidInput.of_field(
            "entry_no",
            _("Bonded list %(number)s names no customs declaration yet; give the released one.", number=number),
        )
    bonded_list.entry_no = entry_no
    bonded_list.entry_stucd = EntryStatus.RELEASED
    bonded_list.entry_released_at = clock.utcnow()
    audit.record(
        session, action="bonded_list.entry_released", actor=actor, target=bonded_list, details={"entry_no": entry_no}
    )
    return bonded_list


def passage_blocker(bonded_list: BondedList) -> str | None:
    """Why a gate pass covering this list may not be approved yet, or None when it may."""
    if bonded_list.invt_stucd is not INV.APPROVED:
        return bonded_list.invt_stucd.value
    if bonded_list.dclcus_flag and bonded_list.entry_stucd is not EntryStatus.RELEASED:
        return "entry not released"
    return None


def lock_for_deduction(session: Session, bonded_list_ids: Sequence[int]) -> list[BondedList]:
    """The lists, locked in id order, so two last vehicles passing at once settle one after the other."""
    return list(
        session.scalars(
            select(BondedList)
            .where(BondedList.id.in_(bonded_list_ids))
            .order_by(BondedList.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def deduct(session: Session, bonded_list: BondedList, *, actor: Actor, at: datetime) -> bool:
    """Mark the account book deducted (INV211) once every vehicle is through; False when not due or done."""
    if bonded_list.deduction_mark is DeductionMark.DEDUCTED or passage_blocker(bonded_list) is not None:
        return False
    bonded_list.deduction_mark = DeductionMark.DEDUCTED
    bonded_list.deducted_at = at
    audit.record(
        session,
        action="bonded_list.deducted",
        actor=actor,
        target=bonded_list,
        details={"bond_invt_no": bonded_list.bond_invt_no, "putrec_no": bonded_list.putrec_no},
    )
    return True
