"""Release is an explicit flow: it works through the service layer alone, without the web app.

Before, stock deduction and code activation were blinker receivers that existed only once the blueprints were
imported; a script or worker that never called create_app() released goods without deducting stock. Here a fresh
interpreter, which never imports the web app, releases a declaration through `app.clearance.flows` on a migrated
database of its own, and the stock, the codes and the open inspection must all follow.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.databases import configured_url, scratch_database

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    from decimal import Decimal

    from alembic import command
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from app.cli import alembic_config
    from app.clearance import flows
    from app.common import clock
    from app.declarations.models import DeclarationStatus, ReleaseSource
    from app.inspections.models import InspectionTask, TaskStatus
    from app.stock.models import MovementKind, StockLevel, StockMovement
    from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
    from app.users.models import Role
    from tests.factories import make_declaration, make_task, make_user

    url = sys.argv[1]
    command.upgrade(alembic_config(url), "head")
    with Session(create_engine(url)) as session:
        operator = make_user(session, role=Role.WAREHOUSE_OPERATOR)
        warehouse = operator.enterprise
        declaration = make_declaration(session, warehouse=warehouse, status=DeclarationStatus.INSPECTION)
        line = declaration.lines[0]
        line.qty = Decimal(3)
        session.add(StockLevel(warehouse_enterprise_id=warehouse.id, gtin=line.gtin, quantity=Decimal(10)))
        batch = TraceCodeBatch(
            declaration_id=declaration.id, gnum=1, gtin=line.gtin, quantity=2,
            warehouse_enterprise_id=warehouse.id, issued_by_id=operator.id,
        )
        session.add(batch)
        session.flush()
        for serial in ("FLOWS00000000001", "FLOWS00000000002"):
            session.add(TraceCode(
                serial=serial, gtin=line.gtin, status=TraceCodeStatus.AFFIXED, batch_id=batch.id,
                declaration_id=declaration.id, warehouse_enterprise_id=warehouse.id,
            ))
        task = make_task(session, declaration=declaration)
        session.flush()

        applied = flows.apply_customs_decision(
            session, declaration, DeclarationStatus.RELEASED, step="receipt_800", title="放行",
            occurred_at=clock.utcnow(), receipt_id=None, return_info=None,
        )
        session.commit()

        assert applied
        assert declaration.status is DeclarationStatus.RELEASED
        assert declaration.release_source is ReleaseSource.RECEIPT_800
        level = session.scalar(select(StockLevel.quantity).where(StockLevel.gtin == line.gtin))
        assert level == Decimal(7), level
        movement = session.scalar(select(StockMovement).where(StockMovement.declaration_id == declaration.id))
        assert movement.kind is MovementKind.RELEASE_OUT and movement.quantity == Decimal(-3)
        statuses = set(session.scalars(select(TraceCode.status).where(TraceCode.batch_id == batch.id)))
        assert statuses == {TraceCodeStatus.ACTIVE}, statuses
        assert session.get(InspectionTask, task.id).status is TaskStatus.CLOSED

    web = sorted(name for name in sys.modules if name.startswith("app.") and name.endswith("routes"))
    assert not web, f"the flow pulled in the web app: {web}"
    print("released without the web app")
    """
)


def test_a_release_through_the_service_layer_alone_deducts_stock_activates_codes_and_closes_the_task(tmp_path):
    # A database of its own: the test's session holds an open transaction on the shared one.
    with scratch_database(configured_url(), tmp_path) as url:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, url], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "released without the web app" in result.stdout
