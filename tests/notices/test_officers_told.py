"""Officers told: a new high-severity warning, a diverted parcel and a held vehicle reach the phones of the officers
on duty for that office, through the same notices and outbox as the declarants'."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.common import clock
from app.declarations.models import DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.exports.models import ExportParcel, ParcelStage
from app.notices.models import Delivery, Notice, NoticeKind
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.users.models import Role
from tests.factories import (
    make_declaration,
    make_device,
    make_enterprise,
    make_export_list,
    make_gate,
    make_gate_pass,
    make_user,
)
from tests.gates.helpers import arrive, weigh
from tests.notices.test_settings import SETTINGS, quiet_around_now


@pytest.fixture
def officers(session, client, auth_headers):
    """Three officers with phones: one of office 8012, one of 5301, one who named no office."""
    here, elsewhere, anywhere = (make_user(session, role=Role.CUSTOMS_OFFICER) for _ in range(3))
    for officer, code in ((here, "8012"), (elsewhere, "5301")):
        assert client.put(SETTINGS, json={"customs_code": code}, headers=auth_headers(officer)).status_code == 200
    for officer in (here, elsewhere, anywhere):
        make_device(session, user=officer)
    return here, elsewhere, anywhere


def told(session, officer, kind):
    """The officer's notices of `kind`, with how many pushes each queued."""
    notices = session.scalars(select(Notice).where(Notice.recipient_id == officer.id, Notice.kind == kind)).all()
    return [len(session.scalars(select(Delivery).where(Delivery.notice_pk == notice.id)).all()) for notice in notices]


def test_a_new_high_severity_warning_is_pushed_to_the_officers_on_duty_for_its_office(session, officers):
    here, elsewhere, anywhere = officers
    declaration = make_declaration(session, customs_code="8012")

    warning = risk.raise_warning(
        session,
        source=WarningSource.GATE,
        subject_key="vehicle:渝A00001",
        severity=Severity.HIGH,
        title="卡口 KK-1 车辆 渝A00001：转查验",
        declaration_id=declaration.id,
    )

    assert told(session, here, NoticeKind.OFFICER_RISK_WARNING) == [1]
    assert told(session, anywhere, NoticeKind.OFFICER_RISK_WARNING) == [1]
    assert told(session, elsewhere, NoticeKind.OFFICER_RISK_WARNING) == []
    [notice] = session.scalars(select(Notice).where(Notice.recipient_id == here.id)).all()
    assert notice.link == f"/api/v1/risk/warnings/{warning.id}"


def test_repeats_and_lower_severities_tell_nobody_but_a_raise_to_high_does(session, officers):
    here, _, _ = officers
    raise_it = lambda severity: risk.raise_warning(  # noqa: E731
        session, source=WarningSource.VIDEO, subject_key="camera:C1:loitering", severity=severity, title="异常滞留"
    )

    raise_it(Severity.MEDIUM)
    assert told(session, here, NoticeKind.OFFICER_RISK_WARNING) == []
    raise_it(Severity.HIGH)
    raise_it(Severity.HIGH)

    assert told(session, here, NoticeKind.OFFICER_RISK_WARNING) == [1]


def test_an_office_nobody_named_is_heard_by_the_officers_who_named_none(session, officers):
    declaration = make_declaration(session, customs_code="9999")

    risk.raise_warning(
        session,
        source=WarningSource.GATE,
        subject_key="vehicle:渝A00002",
        severity=Severity.HIGH,
        title="t",
        declaration_id=declaration.id,
    )

    assert [len(told(session, officer, NoticeKind.OFFICER_RISK_WARNING)) for officer in officers] == [0, 0, 1]


def test_when_no_officer_is_on_duty_for_the_office_every_officer_hears_it(session, client, auth_headers):
    assigned = [make_user(session, role=Role.CUSTOMS_OFFICER) for _ in range(2)]
    for officer in assigned:
        client.put(SETTINGS, json={"customs_code": "5301"}, headers=auth_headers(officer))
    declaration = make_declaration(session, customs_code="9998")

    risk.raise_warning(
        session,
        source=WarningSource.GATE,
        subject_key="vehicle:渝A00003",
        severity=Severity.HIGH,
        title="t",
        declaration_id=declaration.id,
    )

    assert [len(told(session, officer, NoticeKind.OFFICER_RISK_WARNING)) for officer in assigned] == [1, 1]


def test_a_diverted_parcel_is_pushed_to_the_officers_of_the_lists_office(session, client, auth_headers, officers):
    here, elsewhere, anywhere = officers
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    line = auth_headers(make_user(session, role=Role.XRAY_LINE, enterprise=warehouse))
    export = make_export_list(
        session, warehouse=warehouse, status=DeclarationStatus.RELEASED, stage=ParcelStage.SCANNED_IN
    )
    number = session.scalars(select(ExportParcel.waybill_no).where(ExportParcel.declaration_id == export.id)).first()
    body = {"waybill_no": number, "line_id": "XR-01", "image_ref": "img/x.png", "verdict": "suspect"}

    answer = client.post("/api/v1/export-line/scans", json=body, headers=line)

    assert answer.json["decision"] == "divert"
    assert told(session, here, NoticeKind.OFFICER_PARCEL_DIVERTED) == [1]
    assert told(session, anywhere, NoticeKind.OFFICER_PARCEL_DIVERTED) == [1]
    assert told(session, elsewhere, NoticeKind.OFFICER_PARCEL_DIVERTED) == []


def test_a_held_vehicle_reaches_an_officers_phone_even_in_quiet_hours(session, client, auth_headers, officers):
    here, _, _ = officers
    client.put(SETTINGS, json={"customs_code": "8012", "quiet_hours": quiet_around_now(2)}, headers=auth_headers(here))
    gate = make_gate(session, customs_code="8012")
    gate_pass = make_gate_pass(session)
    ops = auth_headers(make_user(session, role=Role.GATE_OPERATOR))
    arrived = arrive(client, ops, gate, gate_pass.plate)

    decided = weigh(client, ops, arrived.json["id"], "10400")

    assert decided.json["status"] == "referred"
    [notice] = session.scalars(
        select(Notice).where(Notice.recipient_id == here.id, Notice.kind == NoticeKind.OFFICER_VEHICLE_HELD)
    ).all()
    [push] = session.scalars(select(Delivery).where(Delivery.notice_pk == notice.id)).all()
    assert push.next_attempt_at <= clock.utcnow()
    feed = client.get("/api/v1/notices", query_string={"after_seq": 0}, headers=auth_headers(here)).json["items"]
    assert "officer.vehicle_held" in [item["kind"] for item in feed]
