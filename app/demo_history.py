"""Two weeks of the demo park's past, so every dashboard has something to draw (`flask seed-demo`, from app/demo.py).

The services act at "now" and have no way to act in the past, so the past is written in two moves: declarations,
their receipts, their notices and trace-code lookups go through the same services as today's, then their moments
are moved back to the day they stand for (each by one offset, so every duration the figures measure is the one
the services saw). Gate passages of the past are written as they stand once decided: arriving, weighing and deciding
through the services needs a vehicle, a pass and a reading per passage, and their history is all the gate figures
read. The amounts are fixed patterns, not random, so every seed draws the same charts. Running it again keeps what
exists (the first history declaration marks it done).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import users
from app.common import clock
from app.common.figures import ParkDay, park_days
from app.config import Settings
from app.customs import service as customs
from app.customs.models import ReceiptFormat
from app.customs.schemas import IncomingReceipt
from app.declarations import service as declarations
from app.declarations.models import Declaration, DeclarationEvent
from app.enterprises.models import Enterprise
from app.gates import lanes
from app.gates.models import GatePassage, Lane, LaneType, PassageStatus, ReferralReason
from app.notices.models import Notice
from app.risk.models import RiskWarning, WarningSource
from app.rules import service as rule_values
from app.trace import alarms
from app.trace.models import TraceCode, TraceCodeStatus
from app.trace.verdicts import clone_rules
from app.users.models import User

HISTORY_DAYS = 14  # ending yesterday; today has the demo's live data
# Minutes from submission to release, one list a slot; a day takes a window of them, so days differ and some
# lists miss the half-hour goal.
RELEASE_MINUTES = [7, 11, 14, 9, 18, 24, 12, 33, 16, 21, 46, 13, 28, 10, 38, 19, 26, 15]
DECLARATIONS_A_DAY = [3, 4, 5, 4, 6, 3, 4, 5, 6, 4, 3, 5, 4, 6]
# Seconds from a notice to its push, and to the app (when the person opened it).
PUSH_SECONDS = [1.2, 0.8, 2.5, 1.6, 0.9, 3.8, 1.1]
APP_SECONDS = [35, 80, 140, 22, 310, 65, 48]
# Vehicles a day by lane type, and every how many the gate referred to staff and why.
VEHICLES_A_DAY = {
    LaneType.CONTAINER: 18,
    LaneType.ECOMMERCE: 30,
    LaneType.GENERAL: 12,
    LaneType.OVERLENGTH: 4,
    LaneType.CONVENIENT: 9,
    LaneType.GENERAL_TAXPAYER_PILOT: 6,
}
REFERRALS = [
    [ReferralReason.WEIGHT_OUT_OF_TOLERANCE],
    [ReferralReason.NO_VALID_PASS],
    [ReferralReason.CONTAINER_NOT_READ],
    [ReferralReason.WEIGHT_OUT_OF_TOLERANCE, ReferralReason.ESEAL_MISMATCH],
    [ReferralReason.PLATE_MISMATCH],
    [ReferralReason.OPEN_RISK_WARNING],
]
REFER_EVERY = 6
# Few enough that the demo's codes stay under the clone limits (50 lookups a code, 5 networks a day) and the
# printed trace URL still answers "genuine".
LOOKUPS_A_DAY = [2, 4, 2, 5, 6, 3, 4, 7, 3, 6, 7, 4, 5, 8]
CLONE_DAYS = {4, 9}  # days (index in the history) on which copies of a label under another lot were looked up
COPIES_LOOKED_UP = 6


def seed_history(session: Session, *, settings: Settings, warehouse: Enterprise, payload: Any) -> None:
    """Declarations released over the last two weeks, their notices, gate passages and trace-code lookups."""
    declarant = users.find_user_by_username(session, "declarant")
    gateway = users.find_user_by_username(session, "gateway")
    gate_user = users.find_user_by_username(session, "gate")
    if declarant is None or gateway is None or gate_user is None or _seeded(session):
        return
    now = clock.utcnow()
    days = park_days(HISTORY_DAYS + 1, now=now)[:-1]
    slot = 0
    for index, day in enumerate(days):
        for number in range(DECLARATIONS_A_DAY[index % len(DECLARATIONS_A_DAY)]):
            cop_no = f"DEMO-H{day.day:%m%d}-{number + 1:02d}"
            submitted = day.since + timedelta(hours=1 + number * 1.5, minutes=7 * index % 40)
            # The first list of every other day was picked for inspection: released after it, later.
            inspected = number == 0 and index % 2 == 0
            minutes = RELEASE_MINUTES[slot % len(RELEASE_MINUTES)] + (95 if inspected else 0)
            # Another buyer for each list: one buyer's lists would pass the yearly cross-border retail limit.
            _declare(
                session,
                {**payload(cop_no, warehouse), "buyer_id_number": _buyer_id(slot)},
                declarant=declarant,
                gateway=gateway,
                now=now,
                minutes=minutes,
                inspected=inspected,
                moved=submitted - now,
                slot=slot,
            )
            slot += 1
        _passages(session, day, index, gate_user)
    _lookups(session, days, settings=settings, now=now)


def _buyer_id(number: int) -> str:
    """A well-formed resident identity number (GB 11643 check digit) for the `number`th demo buyer."""
    body = f"500106199{number % 10}{1 + number // 28 % 12:02d}{1 + number % 28:02d}{number % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(digit) * weight for digit, weight in zip(body, weights, strict=True)) % 11]


def _seeded(session: Session) -> bool:
    return session.scalar(select(Declaration.id).where(Declaration.cop_no.like("DEMO-H%")).limit(1)) is not None


def _declare(
    session: Session,
    payload: dict[str, Any],
    *,
    declarant: User,
    gateway: User,
    now: datetime,
    minutes: int,
    inspected: bool,
    moved: timedelta,
    slot: int,
) -> None:
    declaration = declarations.submit(session, declarant=declarant, **payload)
    receipts = [(120, "新增申报成功", 1)]
    if inspected:
        receipts.append((500, "布控查验", 3))
    receipts += [(399, None, minutes - 1), (800, None, minutes)]
    customs.ingest(
        session,
        [_receipt(declaration, code, info, now + timedelta(minutes=after)) for code, info, after in receipts],
        gateway=gateway,
        format=ReceiptFormat.JSON,
    )
    # Back to the day it stands for: the declaration, its steps, and the notices they sent.
    declaration.submitted_at += moved
    if declaration.released_at is not None:
        declaration.released_at += moved
    for event in session.scalars(select(DeclarationEvent).where(DeclarationEvent.declaration_id == declaration.id)):
        event.occurred_at += moved
    for offset, notice in enumerate(session.scalars(select(Notice).where(Notice.declaration_id == declaration.id))):
        notice.created_at += moved
        pick = slot + offset
        notice.first_sent_at = notice.created_at + timedelta(seconds=PUSH_SECONDS[pick % len(PUSH_SECONDS)])
        notice.acknowledged_at = notice.created_at + timedelta(seconds=APP_SECONDS[pick % len(APP_SECONDS)])
    session.flush()


def _receipt(declaration: Declaration, code: int, info: str | None, at: datetime) -> IncomingReceipt:
    return IncomingReceipt(
        guid=declaration.guid,
        cop_no=declaration.cop_no,
        pre_no=None,
        invt_no=f"80122026I{declaration.id:09d}" if code == 120 else None,
        status_code=code,
        return_time=at,
        return_info=info,
        raw_body=f'{{"demo": true, "status_code": {code}}}',
    )


def _passages(session: Session, day: ParkDay, index: int, gate_user: User) -> None:
    """A day of vehicles through the demo gate's lanes, decided: most cleared by the gate itself."""
    gate = lanes.find_gate_by_code(session, "XY-KK01")
    if gate is None:
        return
    serial = 0
    for lane in session.scalars(select(Lane).where(Lane.gate_id == gate.id).order_by(Lane.code)):
        # Out lanes carry a little less than in lanes, and busier days come in waves.
        count = VEHICLES_A_DAY[lane.lane_type] * (3 if lane.direction.value == "in" else 2) // 3 + index % 4
        for number in range(count):
            serial += 1
            arrived = day.since + timedelta(hours=6, minutes=number * 16 * 60 // (count + 1))  # 06:00 to 22:00
            referred = serial % REFER_EVERY == 0
            reasons = REFERRALS[(serial // REFER_EVERY + index) % len(REFERRALS)] if referred else []
            status = PassageStatus.AUTO_CLEARED
            if referred:
                status = PassageStatus.TURNED_BACK if serial % (REFER_EVERY * 5) == 0 else PassageStatus.CLEARED
            session.add(
                GatePassage(
                    gate_id=gate.id,
                    lane_id=lane.id,
                    direction=lane.direction,
                    status=status,
                    plate_read=f"渝H{index:02d}{serial:03d}",
                    reasons=[reason.value for reason in reasons],
                    decided_by_id=gate_user.id if referred else None,
                    arrived_by_id=gate_user.id,
                    arrived_at=arrived,
                    decided_at=arrived + timedelta(seconds=(240 + 37 * number) if referred else 9 + number % 7),
                )
            )
    session.flush()


def _lookups(session: Session, days: list[ParkDay], *, settings: Settings, now: datetime) -> None:
    """Consumers' lookups of the demo's live codes; on two days copies of one label, looked up far away."""
    codes = list(session.scalars(select(TraceCode.id).where(TraceCode.status == TraceCodeStatus.ACTIVE).limit(2)))
    if not codes:
        return
    rules = clone_rules(rule_values.values_in_force(session, settings=settings))
    for index, day in enumerate(days):
        scans = [
            _scan(codes[number % len(codes)], day.since + timedelta(hours=8, minutes=23 * number), "genuine", number)
            for number in range(LOOKUPS_A_DAY[index % len(LOOKUPS_A_DAY)])
        ]
        if index in CLONE_DAYS:
            code = codes[index % len(codes)]  # one label a day: each raises its own alarm
            scans += [_scan(code, day.since + timedelta(hours=20, minutes=number), "lot_mismatch", number)
                      for number in range(COPIES_LOOKED_UP)]  # fmt: skip
        before = session.scalar(select(func.max(RiskWarning.id))) or 0
        alarms.record_scans(session, scans, rules=rules)
        # The alarm a day's copies raised, back to that day (the clone check dates it now).
        for warning in session.scalars(
            select(RiskWarning).where(RiskWarning.id > before, RiskWarning.source == WarningSource.TRACE)
        ):
            warning.first_raised_at = warning.last_raised_at = day.since + timedelta(hours=21)
        session.flush()


def _scan(code_id: int, at: datetime, verdict: str, number: int) -> dict[str, Any]:
    far = verdict != "genuine"
    return {
        "trace_code_id": code_id,
        "scanned_at": at,
        "network": f"{'58.16' if far else '113.204'}.{number % 3}.0/24",
        "client_class": "wechat" if number % 3 else "browser",
        "region": ("广东" if number % 2 else "黑龙江") if far else "重庆",
        "verdict": verdict,
        "before_release": False,
    }
