from sqlalchemy import select

from app.declarations.models import Declaration, DeclarationKind, DeclarationStatus
from app.exports.models import ExportParcel, ParcelStage, Recheck
from app.notices.models import Notice


def test_seed_demo_takes_one_export_list_through_the_whole_zone_flow_once(app, session):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])

    assert first.exit_code == second.exit_code == 0, first.output
    (export,) = session.scalars(select(Declaration).where(Declaration.kind == DeclarationKind.EXPORT_INVENTORY))
    assert export.status is DeclarationStatus.CLOSED
    parcels = session.scalars(select(ExportParcel).where(ExportParcel.declaration_id == export.id)).all()
    assert {parcel.stage for parcel in parcels} == {ParcelStage.DEPARTED}
    (recheck,) = session.scalars(select(Recheck))
    assert recheck.parcel_id in {parcel.id for parcel in parcels}
    kinds = {kind.value for kind in session.scalars(select(Notice.kind).where(Notice.declaration_id == export.id))}
    assert {"export.diverted", "export.rechecked", "export.left_zone", "export.departed"} <= kinds
