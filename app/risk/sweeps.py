"""Sweeps that raise warnings from what the park's records show over time (`flask risk sweep`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.common import clock
from app.declarations.models import Declaration
from app.inspections.models import InspectionResult, InspectionTask
from app.risk.models import Severity, WarningSource
from app.risk.service import has_open_warning, raise_warning

ABNORMAL_INSPECTIONS = 3
ABNORMAL_WINDOW = timedelta(days=90)


def sweep_abnormal_inspections(session: Session) -> int:
    """Warn about enterprises whose goods inspections found abnormal repeatedly within the window."""
    since = clock.utcnow() - ABNORMAL_WINDOW
    counts = session.execute(
        select(Declaration.declaring_enterprise_id, func.count())
        .join(InspectionTask, InspectionTask.declaration_id == Declaration.id)
        .where(InspectionTask.result == InspectionResult.ABNORMAL, InspectionTask.result_at >= since)
        .group_by(Declaration.declaring_enterprise_id)
        .having(func.count() >= ABNORMAL_INSPECTIONS)
    ).all()
    raised = 0
    for enterprise_id, count in counts:
        subject = f"enterprise:{enterprise_id}:abnormal_inspections"
        # A sweep runs often; an open warning already says it, so only a new one is raised.
        if has_open_warning(session, subject):
            continue
        raise_warning(
            session,
            source=WarningSource.INSPECTION,
            subject_key=subject,
            severity=Severity.HIGH,
            title=f"企业 {enterprise_id} 近 {ABNORMAL_WINDOW.days} 天查验异常 {count} 次",
            details={"abnormal_inspections": count, "window_days": ABNORMAL_WINDOW.days},
            enterprise_id=enterprise_id,
        )
        raised += 1
    return raised
