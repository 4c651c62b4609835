"""What a container's lists are told when it leaves the zone: a timeline step on each, a notice to its declarants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Disposition
from app.exports.models import ExportContainer
from app.gates.models import GatePass
from app.i18n import N_
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import Role, User


def tell_lists(
    session: Session,
    container: ExportContainer,
    gate_pass: GatePass,
    by_list: dict[int, tuple[Any, ...]],
    *,
    record_no: str,
    actor: User,
    at: datetime,
) -> None:
    """A timeline step on every list in the container, and a notice to its declarants."""
    where = f"{container.container_no}（封志 {container.seal_no}）"
    declaration_status.record_events(
        session,
        [
            {
                "declaration_id": declaration_id,
                "status": row[5],
                "place": row[6],
                "step": "left_zone",
                "title": f"集装箱 {where} 经电商卡口出区，区港联动放行",
                "occurred_at": at,
                "biz_step": BizStep.DEPARTING,
                "disposition": Disposition.IN_TRANSIT,
                "actor_id": actor.id,
                "details": {
                    "container_id": container.id,
                    "container_no": container.container_no,
                    "seal_no": container.seal_no,
                    "passport_no": gate_pass.passport_no,
                    "port_code": container.port_code,
                    "record_no": record_no,
                },
            }
            for declaration_id, row in by_list.items()
        ],
    )
    notices.prefetch_recipients(session, {row[7] for row in by_list.values()}, [Role.DECLARANT])
    for declaration_id, row in by_list.items():
        number = row[1] or row[2]
        notices.notify_enterprise(
            session,
            enterprise_id=row[7],
            roles=[Role.DECLARANT],
            kind=NoticeKind.EXPORT_LEFT_ZONE,
            title=Message(N_("Parcels left the zone: %(number)s"), number=number),
            body=Message(
                N_(
                    "The parcels of list %(number)s left the zone in container %(container_no)s (seal %(seal_no)s); "
                    "the port releases them on the zone's inspection (zone–port linkage)."
                ),
                number=number,
                container_no=container.container_no,
                seal_no=container.seal_no,
            ),
            source_key=f"export/{declaration_id}/left_zone/{container.id}",
            declaration_id=declaration_id,
            link=f"/api/v1/export-lists/{declaration_id}",
        )
