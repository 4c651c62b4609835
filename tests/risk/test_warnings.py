import pytest

from app.declarations.models import DeclarationStatus
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.users.models import Role
from tests.factories import make_declaration, make_user

WARNINGS = "/api/v1/risk/warnings"
VIDEO = "/api/v1/risk/video-events"
AUDIT = "/api/v1/admin/audit-events"


@pytest.fixture
def camera(session):
    return make_user(session, role=Role.VIDEO_ANALYTICS)


def video_event(client, headers, **overrides):
    body = {"camera_id": "CAM-01", "occurred_at": "2026-11-20T09:30:00+08:00", "event_type": "tailgating", **overrides}
    return client.post(VIDEO, json=body, headers=headers)


def test_a_camera_system_reports_an_event_that_lands_in_the_officers_queue(client, auth_headers, camera, officer):
    reported = video_event(client, auth_headers(camera), plate="渝A·12345", confidence=0.92)

    assert reported.status_code == 201
    queue = client.get(WARNINGS, query_string={"source": "video"}, headers=auth_headers(officer)).json["items"]
    assert [(w["id"], w["severity"], w["plate"]) for w in queue] == [(reported.json["id"], "high", "渝A12345")]
    assert queue[0]["details"]["camera_id"] == "CAM-01"


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.GATE_OPERATOR, Role.CUSTOMS_OFFICER])
def test_only_camera_systems_report_video_events(client, auth_headers, session, role):
    response = video_event(client, auth_headers(make_user(session, role=role)))

    assert response.status_code == 403


def test_a_camera_system_cannot_read_the_queue(client, auth_headers, camera):
    assert client.get(WARNINGS, headers=auth_headers(camera)).status_code == 403


def test_repeats_about_the_same_subject_count_on_one_open_warning(client, auth_headers, camera, officer):
    headers = auth_headers(camera)
    first = video_event(client, headers, event_type="loitering", plate="渝A12345")
    second = video_event(client, headers, event_type="fence_intrusion", plate="渝A12345")
    elsewhere = video_event(client, headers, event_type="loitering")

    assert second.json["id"] == first.json["id"]
    assert second.json["occurrences"] == 2
    assert second.json["severity"] == "high"  # the worse of the two
    assert elsewhere.json["id"] != first.json["id"]
    assert elsewhere.json["subject_key"] == "camera:CAM-01:loitering"


def test_an_officer_takes_and_resolves_a_warning_and_both_are_audited(client, auth_headers, session, camera, officer):
    warning = video_event(client, auth_headers(camera), plate="渝A12345").json
    headers = auth_headers(officer)

    taken = client.post(f"{WARNINGS}/{warning['id']}/take", headers=headers)
    resolved = client.post(
        f"{WARNINGS}/{warning['id']}/resolve", json={"resolution": "confirmed", "notes": "已移交缉私"}, headers=headers
    )

    assert taken.json["status"] == "taken"
    assert taken.json["assignee_id"] == officer.id
    assert resolved.json["status"] == "resolved"
    assert resolved.json["resolution_notes"] == "已移交缉私"
    admin = make_user(session, role=Role.ADMIN)
    actions = [
        event["action"]
        for event in client.get(
            AUDIT,
            query_string={"target_type": "risk_warnings", "target_id": str(warning["id"])},
            headers=auth_headers(admin),
        ).json["items"]
    ]
    assert actions == ["risk.warning_resolved", "risk.warning_taken", "risk.warning_raised"]


def test_a_warning_taken_by_one_officer_is_not_resolved_by_another(client, auth_headers, session, camera, officer):
    warning = video_event(client, auth_headers(camera)).json
    client.post(f"{WARNINGS}/{warning['id']}/take", headers=auth_headers(officer))
    colleague = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))

    took = client.post(f"{WARNINGS}/{warning['id']}/take", headers=colleague)
    resolved = client.post(
        f"{WARNINGS}/{warning['id']}/resolve", json={"resolution": "false_alarm", "notes": "误报"}, headers=colleague
    )

    assert (took.status_code, resolved.status_code) == (409, 409)
    assert took.json["code"] == "warning_taken"


def test_resolving_needs_notes(client, auth_headers, camera, officer):
    warning = video_event(client, auth_headers(camera)).json

    response = client.post(
        f"{WARNINGS}/{warning['id']}/resolve",
        json={"resolution": "false_alarm", "notes": "  "},
        headers=auth_headers(officer),
    )

    assert response.status_code == 422
    assert "notes" in response.json["errors"]["json"]


def test_after_resolution_the_same_subject_opens_a_new_warning(client, auth_headers, camera, officer):
    first = video_event(client, auth_headers(camera), plate="渝A12345").json
    client.post(
        f"{WARNINGS}/{first['id']}/resolve",
        json={"resolution": "false_alarm", "notes": "误报"},
        headers=auth_headers(officer),
    )

    again = video_event(client, auth_headers(camera), plate="渝A12345").json

    assert again["id"] != first["id"]
    assert again["occurrences"] == 1


def test_an_officer_turns_a_warning_into_an_inspection_task(client, auth_headers, session, officer):
    declaration = make_declaration(session, status=DeclarationStatus.ACCEPTED)
    warning = risk.raise_warning(
        session,
        source=WarningSource.TRACE,
        subject_key="trace:ABC123",
        severity=Severity.HIGH,
        title="溯源码疑似被复制",
        declaration_id=declaration.id,
    )

    task = client.post(
        f"{WARNINGS}/{warning.id}/inspection", json={"method": "open_box"}, headers=auth_headers(officer)
    )

    assert task.status_code == 201
    assert (task.json["source"], task.json["method"]) == ("risk_alert", "open_box")
    assert task.json["declaration"]["id"] == declaration.id
    read = client.get(f"{WARNINGS}/{warning.id}", headers=auth_headers(officer)).json
    assert (read["inspection_task_id"], read["status"]) == (task.json["id"], "taken")


def test_a_warning_without_a_declaration_needs_one_named_for_an_inspection(client, auth_headers, camera, officer):
    warning = video_event(client, auth_headers(camera)).json

    response = client.post(f"{WARNINGS}/{warning['id']}/inspection", json={}, headers=auth_headers(officer))

    assert response.status_code == 422
    assert "declaration_id" in response.json["errors"]["json"]


def test_the_queue_filters_and_pages(client, auth_headers, camera, officer):
    headers = auth_headers(camera)
    ids = [video_event(client, headers, camera_id=f"CAM-{n}", event_type="lane_violation").json["id"] for n in range(3)]
    video_event(client, headers, camera_id="CAM-9", event_type="fence_intrusion")

    first = client.get(WARNINGS, query_string={"severity": "low", "limit": 2}, headers=auth_headers(officer)).json
    second = client.get(
        WARNINGS,
        query_string={"severity": "low", "limit": 2, "cursor": first["next_cursor"]},
        headers=auth_headers(officer),
    ).json

    assert [w["id"] for w in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
