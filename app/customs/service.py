"""Customs receipts: store each exactly once, apply it by rank, keep the ones nobody recognises."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clearance import flows
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.customs.models import Receipt, ReceiptFormat, ReceiptOutcome
from app.customs.schemas import IncomingReceipt
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import Declaration, DeclarationStatus
from app.errors import Conflict, NotFound
from app.i18n import _, _l
from app.infra import arrays
from app.users.models import User

S = DeclarationStatus
RETRIED = "receipt.retried"

# CEB622 returnStatus → the status it means. Codes not listed (and not negative) are kept on the
# timeline without moving the declaration.
RECEIPT_STATUS: dict[int, DeclarationStatus] = {
    2: S.SUBMITTED,
    3: S.SUBMITTED,
    4: S.SEND_FAILED,
    100: S.REJECTED,
    120: S.ACCEPTED,
    300: S.MANUAL_REVIEW,
    399: S.AUDITED,
    500: S.INSPECTION,
    501: S.DETAINED,
    502: S.DETAINED,
    503: S.DETAINED,
    599: S.DETAINED,
    700: S.SHIPPED_BACK,
    800: S.RELEASED,
    899: S.CLOSED,
}

RECEIPT_TITLES: dict[int, str] = {
    2: "电子口岸已暂存，申报中",
    3: "发送海关成功",
    4: "发送海关失败",
    100: "海关退单",
    120: "海关入库",
    300: "人工审核",
    399: "海关审结",
    500: "查验",
    501: "扣留移送通关",
    502: "扣留移送缉私",
    503: "扣留移送法规",
    599: "其它扣留",
    700: "退运",
    800: "放行",
    899: "结关",
}


class ReceiptAlreadyResolved(Conflict):
    code, title = "receipt_resolved", _l("Receipt already resolved")


@dataclass
class ReceiptResult:
    index: int
    outcome: ReceiptOutcome
    receipt_id: int | None
    declaration_id: int | None
    status: DeclarationStatus | None


def status_for(code: int) -> DeclarationStatus | None:
    # Negative codes are processing errors: the list did not get through.
    return S.SEND_FAILED if code < 0 else RECEIPT_STATUS.get(code)


def ingest(
    session: Session, receipts: Sequence[IncomingReceipt], *, gateway: User, format: ReceiptFormat
) -> list[ReceiptResult]:
    """Store and apply a document of receipts; every receipt gets an outcome, in document order."""
    found = declarations.find_for_receipt(
        session,
        guids={r.guid for r in receipts if r.guid},
        cop_nos={r.cop_no for r in receipts if r.cop_no},
    )
    targets = [_declaration_named(found, receipt) for receipt in receipts]
    fingerprints = [_fingerprint(receipt, target) for receipt, target in zip(receipts, targets, strict=True)]

    # Insert each new fingerprint once; a twin in this document, an earlier delivery, or a
    # concurrent request holding the same receipt all end up as duplicates of the stored row.
    first_index: dict[str, int] = {}
    for index, fingerprint in enumerate(fingerprints):
        first_index.setdefault(fingerprint, index)
    now = clock.utcnow()
    # Inserted in fingerprint order: two documents sharing receipts take the unique index's entries in one order.
    rows = [
        _receipt_row(receipts[index], targets[index], fingerprint, format, gateway, now)
        for fingerprint, index in sorted(first_index.items())
    ]
    # Before any declaration is locked: a receipt re-sent while its first delivery's document is still being
    # applied waits here for that document, and holds nothing another document needs meanwhile.
    inserted = _insert_new(session, rows)
    changing = [
        target
        for fingerprint, index in first_index.items()
        if fingerprint in inserted and (target := targets[index]) is not None
    ]
    declarations.lock_for_receipts(session, changing)
    declaration_status.prefetch_notified(session, changing)
    stored = {
        fingerprint: receipt_id
        for fingerprint, receipt_id in session.execute(
            select(Receipt.fingerprint, Receipt.id).where(Receipt.fingerprint.in_(fingerprints))
        )
    }

    taken_invt_nos = set(
        session.scalars(
            select(Declaration.invt_no).where(Declaration.invt_no.in_({r.invt_no for r in receipts if r.invt_no}))
        )
    )
    results: list[ReceiptResult | None] = [None] * len(receipts)
    stale_ids: list[int] = []
    audited: list[audit.AuditRow] = []
    # One flush at the end sends the document's events and notices as batched INSERTs, rather
    # than a flush per receipt triggered by each query on the way; what the decisions set off in other domains
    # (stock, trace codes, inspections) follows for all of them together, at the end.
    decisions = flows.Decisions(session)
    with session.no_autoflush:
        # Customs' own clock orders the timeline, whatever order the document lists receipts in.
        for index in sorted(range(len(receipts)), key=lambda i: receipts[i].return_time):
            fingerprint, target = fingerprints[index], targets[index]
            receipt_id = stored.get(fingerprint)
            before = target.status if target else None
            if fingerprint not in inserted or first_index[fingerprint] != index:
                outcome = ReceiptOutcome.DUPLICATE
            elif target is None:
                outcome = ReceiptOutcome.UNKNOWN_DECLARATION
            elif _apply(decisions, target, receipts[index], receipt_id, taken_invt_nos):
                outcome = ReceiptOutcome.APPLIED
            else:
                outcome = ReceiptOutcome.STALE
                stale_ids.append(receipt_id)
            if outcome is not ReceiptOutcome.DUPLICATE:  # a duplicate changes nothing
                audited.append(_audit(receipts[index], receipt_id, target, before, outcome, actor=audit.by(gateway)))
            results[index] = ReceiptResult(
                index=index,
                outcome=outcome,
                receipt_id=receipt_id,
                declaration_id=target.id if target else None,
                status=target.status if target else None,
            )
    if stale_ids:
        session.execute(
            update(Receipt)
            .where(Receipt.id.in_(stale_ids))
            .values(outcome=ReceiptOutcome.STALE)
            .execution_options(synchronize_session=False)
        )
    audit.record_all(session, audited)
    # Last, so the rows every release of a popular product needs are held only from here to COMMIT.
    decisions.finish()
    session.flush()
    return [result for result in results if result is not None]


def _audit(
    receipt: IncomingReceipt,
    receipt_id: int | None,
    target: Declaration | None,
    before: DeclarationStatus | None,
    outcome: ReceiptOutcome,
    *,
    actor: audit.Actor,
) -> audit.AuditRow:
    # Written with the document's other entries in one INSERT at the end.
    return audit.prepare(
        action=f"receipt.{'unmatched' if outcome is ReceiptOutcome.UNKNOWN_DECLARATION else outcome.value}",
        actor=actor,
        target_type="customs_receipts",
        target_id=receipt_id,
        details={
            "status_code": receipt.status_code,
            "declaration_id": target.id if target else None,
            "from": before.value if before else None,
            "to": target.status.value if target else None,
        },
    )


def outcome_counts(results: Sequence[ReceiptResult]) -> dict[str, int]:
    counts = Counter(result.outcome.value for result in results)
    return {outcome.value: counts.get(outcome.value, 0) for outcome in ReceiptOutcome}


def _declaration_named(found: dict[str, Declaration], receipt: IncomingReceipt) -> Declaration | None:
    if receipt.guid and receipt.guid in found:
        return found[receipt.guid]
    if receipt.cop_no:
        return found.get(f"cop:{receipt.cop_no}")
    return None


def _fingerprint(receipt: IncomingReceipt, target: Declaration | None) -> str:
    """Same declaration, same code, same customs time: the same receipt, by guid or by cop_no."""
    subject = target.guid if target else f"?{receipt.guid or ''}|{receipt.cop_no or ''}"
    key = f"{subject}|{receipt.status_code}|{receipt.return_time.isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()


def _receipt_row(
    receipt: IncomingReceipt,
    target: Declaration | None,
    fingerprint: str,
    format: ReceiptFormat,
    gateway: User,
    now: Any,
) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint,
        "declaration_id": target.id if target else None,
        "guid": receipt.guid,
        "cop_no": receipt.cop_no,
        "invt_no": receipt.invt_no,
        "status_code": receipt.status_code,
        "return_time": receipt.return_time,
        "return_info": receipt.return_info,
        "format": format,
        "raw_body": receipt.raw_body,
        "outcome": ReceiptOutcome.APPLIED if target else ReceiptOutcome.UNKNOWN_DECLARATION,
        "received_at": now,
        "received_by_id": gateway.id,
    }


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT … ON CONFLICT DO NOTHING: the fingerprints this transaction stored first.

    One statement for the document, its text the same for any number of receipts (app/infra/arrays.py), every row
    naming every column.
    """
    return {
        fingerprint
        for (fingerprint,) in arrays.insert_rows(
            session, Receipt.__table__, rows, returning=("fingerprint",), skip_conflicts_on="fingerprint"
        )
    }


def _apply(
    decisions: flows.Decisions,
    declaration: Declaration,
    receipt: IncomingReceipt,
    receipt_id: int | None,
    taken_invt_nos: set[str],
) -> bool:
    """Apply one stored receipt to its declaration; False when it would move it backwards."""
    _take_numbers(declaration, receipt, taken_invt_nos)
    code = receipt.status_code
    title = RECEIPT_TITLES.get(code, f"海关回执 {code}")
    status = status_for(code)
    if status is None:
        decisions.record_step(
            declaration,
            step=f"receipt_{code}",
            title=title,
            occurred_at=receipt.return_time,
            status_changed=False,
            receipt_id=receipt_id,
            details={"return_info": receipt.return_info} if receipt.return_info else None,
        )
        return True
    return decisions.apply_customs_decision(
        declaration,
        status,
        step=f"receipt_{code}",
        title=title,
        occurred_at=receipt.return_time,
        receipt_id=receipt_id,
        return_info=receipt.return_info,
    )


def _take_numbers(declaration: Declaration, receipt: IncomingReceipt, taken_invt_nos: set[str]) -> None:
    # Customs assigns the list number with 120 and repeats it later; take it from whichever
    # receipt brings it first, even a stale one, unless another declaration already holds it.
    if receipt.pre_no and not declaration.pre_no:
        declaration.pre_no = receipt.pre_no
    if receipt.invt_no and not declaration.invt_no and receipt.invt_no not in taken_invt_nos:
        declaration.invt_no = receipt.invt_no
        taken_invt_nos.add(receipt.invt_no)


def list_receipts(
    session: Session,
    *,
    outcome: ReceiptOutcome | None = None,
    unresolved: bool | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Receipt]:
    """Stored receipts, newest first; the admin's review queue is outcome=unknown_declaration."""
    statement = where_given(select(Receipt), (Receipt.outcome, outcome))
    if unresolved is not None:
        statement = statement.where(Receipt.resolved_at.is_(None) if unresolved else Receipt.resolved_at.is_not(None))
    return paginate(session, statement, key=Receipt.id, cursor=cursor, limit=limit)


def get_receipt(session: Session, receipt_id: int) -> Receipt:
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(_("Receipt %(receipt_id)s does not exist.", receipt_id=receipt_id))
    return receipt


def retry_unknown(session: Session, receipt_id: int, *, actor: audit.Actor = audit.SYSTEM) -> Receipt:
    """Match an unknown receipt again (its declaration may have arrived since) and apply it."""
    stored = get_receipt(session, receipt_id)
    if stored.outcome is not ReceiptOutcome.UNKNOWN_DECLARATION or stored.resolved_at is not None:
        raise ReceiptAlreadyResolved(
            _(
                "Receipt %(receipt_id)s is %(outcome)s; nothing to retry.",
                receipt_id=receipt_id,
                outcome=stored.outcome.value,
            )
        )
    incoming = IncomingReceipt(
        guid=stored.guid,
        cop_no=stored.cop_no,
        pre_no=None,
        invt_no=stored.invt_no,
        status_code=stored.status_code,
        return_time=stored.return_time,
        return_info=stored.return_info,
        raw_body=stored.raw_body,
    )
    found = declarations.find_for_receipt(
        session, guids={stored.guid} if stored.guid else set(), cop_nos={stored.cop_no} if stored.cop_no else set()
    )
    target = _declaration_named(found, incoming)
    if target is None:
        # Still nobody's: the try is on the trail all the same (the console shows how often one was retried).
        audit.record(session, action=RETRIED, actor=actor, target=stored, details={"outcome": stored.outcome.value})
        return stored
    declarations.lock_for_receipts(session, [target])
    before = target.status
    fingerprint = _fingerprint(incoming, target)
    stored.resolved_at = clock.utcnow()
    stored.declaration_id = target.id
    if session.scalar(select(Receipt.id).where(Receipt.fingerprint == fingerprint)) is not None:
        stored.outcome = ReceiptOutcome.DUPLICATE
        audit.record(session, action=RETRIED, actor=actor, target=stored, details={"outcome": stored.outcome.value})
        return stored
    stored.fingerprint = fingerprint
    taken = set(session.scalars(select(Declaration.invt_no).where(Declaration.invt_no == incoming.invt_no)))
    decisions = flows.Decisions(session)
    applied = _apply(decisions, target, incoming, stored.id, taken)
    decisions.finish()
    stored.outcome = ReceiptOutcome.APPLIED if applied else ReceiptOutcome.STALE
    audit.record_all(session, [_audit(incoming, stored.id, target, before, stored.outcome, actor=actor)])
    return stored


def dismiss(session: Session, receipt_id: int, *, actor: audit.Actor = audit.SYSTEM) -> Receipt:
    """Mark an unknown receipt as reviewed without applying it."""
    stored = get_receipt(session, receipt_id)
    if stored.resolved_at is not None:
        raise ReceiptAlreadyResolved(_("Receipt %(receipt_id)s was already resolved.", receipt_id=receipt_id))
    stored.resolved_at = clock.utcnow()
    audit.record(session, action="receipt.dismissed", actor=actor, target=stored, details={"guid": stored.guid})
    return stored
