"""Released lists that no gate pass has taken through a gate in time: the sweep that warns customs of them.

It lives with the gates, which know their passes, and raises its warnings through the risk service; the risk
package below knows nothing of gates (`flask risk sweep` runs it).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from app.common import clock
from app.declarations.models import Declaration, DeclarationStatus
from app.gates.models import GatePass, GatePassDeclaration, PassStatus
from app.risk import service as risk
from app.risk.models import RiskWarning, Severity, WarningSource


def sweep_unpassed_releases(session: Session, *, overdue_after: timedelta, limit: int = risk.SWEEP_BATCH) -> int:
    """Warn about released lists whose goods no gate pass has taken through a gate within `overdue_after`."""
    cutoff = clock.utcnow() - overdue_after
    passed = (
        select(GatePassDeclaration.declaration_id)
        .join(GatePass, GatePass.id == GatePassDeclaration.pass_id)
        .where(
            GatePassDeclaration.declaration_id == Declaration.id,
            GatePass.status.in_((PassStatus.PASSED_GATE_1, PassStatus.PASSED)),
        )
    )
    # Each list is warned about once: a warning (open or resolved) already names it.
    subject = literal("unpassed:") + cast(Declaration.id, String)
    warned = select(RiskWarning.id).where(RiskWarning.subject_key == subject)
    overdue = list(
        session.scalars(
            select(Declaration)
            .where(
                Declaration.status == DeclarationStatus.RELEASED,
                Declaration.released_at < cutoff,
                ~exists(passed),
                ~exists(warned),
            )
            .order_by(Declaration.id)
            .limit(limit)
        )
    )
    for declaration in overdue:
        number = declaration.invt_no or declaration.cop_no
        risk.raise_warning(
            session,
            source=WarningSource.OVERDUE_GATE,
            subject_key=f"unpassed:{declaration.id}",
            severity=Severity.MEDIUM,
            title=f"清单 {number} 放行后超过 {overdue_after.total_seconds() / 3600:.0f} 小时未过卡",
            details={"released_at": declaration.released_at.isoformat() if declaration.released_at else None},
            declaration_id=declaration.id,
            enterprise_id=declaration.declaring_enterprise_id,
        )
    return len(overdue)
