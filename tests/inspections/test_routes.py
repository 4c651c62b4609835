from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.common import clock
from app.declarations.models import DeclarationStatus
from app.notices.models import Notice, NoticeKind
from tests.factories import make_declaration, make_inspection_site, make_slot
from tests.inspections.helpers import SITES, TASKS, act, another_task, book, timeline


def notices_of(session, user, kind):
    return list(session.scalars(select(Notice).where(Notice.recipient_id == user.id, Notice.kind == kind)))


def hours_from_now(hours):
    return (clock.utcnow() + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


# Sites and slots


def test_an_admin_registers_a_site_that_everyone_signed_in_can_list(client, auth_headers, admin, declarant):
    response = client.post(
        SITES,
        json={"code": "xy-cy09", "name": "西永查验场地九号", "customs_code": "8012", "location": "西永综保区 B 区"},
        headers=auth_headers(admin),
    )

    assert response.status_code == 201
    assert response.json["code"] == "XY-CY09"
    assert response.json["active"] is True
    listed = client.get(SITES, query_string={"customs_code": "8012"}, headers=auth_headers(declarant)).json
    assert response.json["id"] in [site["id"] for site in listed["items"]]


def test_site_codes_are_unique(client, auth_headers, admin, site):
    response = client.post(
        SITES, json={"code": site.code, "name": "重复", "customs_code": "8012"}, headers=auth_headers(admin)
    )

    assert response.status_code == 409
    assert response.json["code"] == "site_code_taken"


def test_only_admins_register_sites(client, auth_headers, officer):
    response = client.post(
        SITES, json={"code": "X1", "name": "查验场地", "customs_code": "8012"}, headers=auth_headers(officer)
    )

    assert response.status_code == 403


def test_an_officer_opens_slots_and_repeating_the_call_adds_none(client, auth_headers, officer, site):
    body = {
        "start": hours_from_now(2).isoformat(),
        "end": hours_from_now(4).isoformat(),
        "slot_minutes": 30,
        "capacity": 3,
    }

    first = client.post(f"{SITES}/{site.id}/slots", json=body, headers=auth_headers(officer))
    again = client.post(f"{SITES}/{site.id}/slots", json=body, headers=auth_headers(officer))

    assert first.status_code == 201
    assert [slot["remaining"] for slot in first.json] == [3, 3, 3, 3]
    assert again.status_code == 201 and again.json == []


def test_new_slots_never_overlap_existing_ones(client, auth_headers, admin, site):
    start = hours_from_now(2)
    body = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "capacity": 1}
    client.post(f"{SITES}/{site.id}/slots", json={**body, "slot_minutes": 60}, headers=auth_headers(admin))

    finer = client.post(f"{SITES}/{site.id}/slots", json={**body, "slot_minutes": 15}, headers=auth_headers(admin))

    assert finer.status_code == 201 and finer.json == []


def test_one_call_opens_at_most_a_thousand_slots(client, auth_headers, admin, site):
    start = hours_from_now(1)
    body = {
        "start": start.isoformat(),
        "end": (start + timedelta(days=11)).isoformat(),
        "slot_minutes": 15,
        "capacity": 1,
    }

    response = client.post(f"{SITES}/{site.id}/slots", json=body, headers=auth_headers(admin))

    assert response.status_code == 422
    assert "end" in response.json["errors"]["json"]


def test_a_sites_slots_show_their_remaining_places(client, session, auth_headers, declarant, site):
    early = make_slot(session, site=site, starts_at=hours_from_now(2), capacity=2, booked=1)
    late = make_slot(session, site=site, starts_at=hours_from_now(3), capacity=1, booked=1)

    everything = client.get(f"{SITES}/{site.id}/slots", headers=auth_headers(declarant))
    available = client.get(f"{SITES}/{site.id}/slots?available=true", headers=auth_headers(declarant))

    assert everything.status_code == 200
    assert [(slot["id"], slot["remaining"]) for slot in everything.json] == [(early.id, 1), (late.id, 0)]
    assert [slot["id"] for slot in available.json] == [early.id]


def test_a_slot_window_spans_at_most_a_week(client, auth_headers, declarant, site):
    since = hours_from_now(1)
    query = {"since": since.isoformat(), "until": (since + timedelta(days=8)).isoformat()}

    response = client.get(f"{SITES}/{site.id}/slots", query_string=query, headers=auth_headers(declarant))

    assert response.status_code == 422
    assert "until" in response.json["errors"]["query"]


# Issuing by an officer


def test_an_officer_orders_an_inspection_and_the_declaration_moves_to_inspection(
    client, session, auth_headers, officer, declarant, warehouse, operator
):
    accepted = make_declaration(session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.ACCEPTED)

    response = client.post(
        TASKS,
        json={"declaration_id": accepted.id, "method": "open_box", "reason": "布控命中"},
        headers=auth_headers(officer),
    )

    assert response.status_code == 201
    body = response.json
    assert (body["source"], body["method"], body["status"]) == ("manual", "open_box", "notified")
    assert body["declaration"]["status"] == "inspection"
    steps = [event["step"] for event in timeline(client, auth_headers(declarant), accepted.id)]
    assert steps[-2:] == ["officer_inspection_order", "inspection_issued"]
    assert notices_of(session, operator, NoticeKind.INSPECTION_ISSUED)


def test_ordering_an_inspection_twice_returns_the_open_task(client, auth_headers, officer, task):
    response = client.post(TASKS, json={"declaration_id": task.declaration_id}, headers=auth_headers(officer))

    assert response.status_code == 201
    assert response.json["id"] == task.id


def test_a_released_declaration_cannot_be_ordered_for_inspection(client, session, auth_headers, officer):
    released = make_declaration(session, status=DeclarationStatus.RELEASED)

    response = client.post(TASKS, json={"declaration_id": released.id}, headers=auth_headers(officer))

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


def test_only_officers_order_inspections(client, auth_headers, declarant, declaration):
    response = client.post(TASKS, json={"declaration_id": declaration.id}, headers=auth_headers(declarant))

    assert response.status_code == 403


# Seeing tasks


def test_the_declarant_and_the_warehouse_see_the_task(client, auth_headers, task, declarant, operator, officer):
    for user in (declarant, operator, officer):
        response = client.get(f"{TASKS}/{task.id}", headers=auth_headers(user))
        assert response.status_code == 200
        assert response.json["task_no"] == task.task_no


def test_another_enterprises_declarant_sees_no_task_and_cannot_book(client, auth_headers, task, slot, outsider):
    headers = auth_headers(outsider)

    assert client.get(f"{TASKS}/{task.id}", headers=headers).status_code == 404
    assert client.get(TASKS, headers=headers).json["items"] == []
    assert book(client, headers, task.id, slot.id).status_code == 404


def test_tasks_are_listed_newest_first_and_filtered_by_status(client, session, auth_headers, declarant, warehouse):
    older = another_task(session, declarant, warehouse)
    newer = another_task(session, declarant, warehouse)
    headers = auth_headers(declarant)

    first_page = client.get(TASKS, query_string={"limit": 1}, headers=headers).json
    second_page = client.get(
        TASKS, query_string={"limit": 1, "cursor": first_page["next_cursor"]}, headers=headers
    ).json
    appointed = client.get(TASKS, query_string={"status": "appointed"}, headers=headers).json

    assert [page["items"][0]["id"] for page in (first_page, second_page)] == [newer.id, older.id]
    assert appointed["items"] == []


# Booking


def test_the_declarant_books_a_slot_and_both_enterprises_are_told(
    client, session, auth_headers, task, slot, declarant, operator
):
    response = book(client, auth_headers(declarant), task.id, slot.id)

    assert response.status_code == 200
    body = response.json
    assert body["status"] == "appointed"
    assert body["slot"]["id"] == slot.id and body["site"]["code"] == "XY-CY01"
    assert datetime.fromisoformat(body["appointment_at"]) == slot.starts_at
    session.refresh(slot)
    assert slot.booked == 1
    for user in (declarant, operator):
        assert len(notices_of(session, user, NoticeKind.INSPECTION_SCHEDULED)) == 1
    event = timeline(client, auth_headers(declarant), task.declaration_id)[-1]
    assert (event["step"], event["place"], event["biz_step"]) == ("inspection_booked", "XY-CY01", "inspecting")
    assert event["status_changed"] is False


def test_the_warehouse_operator_may_book_too(client, auth_headers, task, slot, operator):
    response = book(client, auth_headers(operator), task.id, slot.id)

    assert response.status_code == 200
    assert response.json["booked_by_id"] == operator.id


def test_officers_do_not_book(client, auth_headers, task, slot, officer):
    assert book(client, auth_headers(officer), task.id, slot.id).status_code == 403


def test_a_full_slot_is_refused(client, session, auth_headers, declarant, warehouse, site):
    slot = make_slot(session, site=site, capacity=1)
    first, second = (another_task(session, declarant, warehouse) for _ in range(2))
    headers = auth_headers(declarant)

    assert book(client, headers, first.id, slot.id).status_code == 200
    refused = book(client, headers, second.id, slot.id)

    assert refused.status_code == 409
    assert refused.json["code"] == "slot_full"
    session.refresh(slot)
    assert slot.booked == 1
    assert client.get(f"{TASKS}/{second.id}", headers=headers).json["status"] == "notified"


def test_a_slot_that_has_begun_cannot_be_booked(client, session, auth_headers, task, site, declarant):
    begun = make_slot(session, site=site, starts_at=clock.utcnow() - timedelta(minutes=5))

    response = book(client, auth_headers(declarant), task.id, begun.id)

    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"


def test_a_closed_site_takes_no_bookings(client, auth_headers, task, slot, site, admin, declarant):
    closed = client.patch(f"{SITES}/{site.id}", json={"active": False}, headers=auth_headers(admin))

    response = book(client, auth_headers(declarant), task.id, slot.id)

    assert closed.status_code == 200 and closed.json["active"] is False
    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"


def test_a_site_of_another_customs_office_cannot_be_booked(client, session, auth_headers, task, declarant):
    elsewhere = make_slot(session, site=make_inspection_site(session, customs_code="8013"))

    response = book(client, auth_headers(declarant), task.id, elsewhere.id)

    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"


def test_an_unknown_slot_is_a_field_error(client, auth_headers, task, declarant):
    response = book(client, auth_headers(declarant), task.id, 987654321)

    assert response.status_code == 422
    assert "slot_id" in response.json["errors"]["json"]


def test_rebooking_frees_the_old_slot(client, session, auth_headers, task, slot, site, declarant, operator):
    later = make_slot(session, site=site, starts_at=slot.starts_at + timedelta(hours=2))
    book(client, auth_headers(declarant), task.id, slot.id)

    response = book(client, auth_headers(operator), task.id, later.id)

    assert response.status_code == 200
    assert response.json["slot"]["id"] == later.id
    session.refresh(slot)
    session.refresh(later)
    assert (slot.booked, later.booked) == (0, 1)
    assert timeline(client, auth_headers(declarant), task.declaration_id)[-1]["step"] == "inspection_rebooked"
    assert len(notices_of(session, declarant, NoticeKind.INSPECTION_SCHEDULED)) == 2


def test_booking_the_same_slot_again_changes_nothing(client, session, auth_headers, task, slot, declarant):
    book(client, auth_headers(declarant), task.id, slot.id)

    again = book(client, auth_headers(declarant), task.id, slot.id)

    assert again.status_code == 200
    session.refresh(slot)
    assert slot.booked == 1
    assert len(notices_of(session, declarant, NoticeKind.INSPECTION_SCHEDULED)) == 1


# Inspecting


def test_the_warehouse_marks_the_goods_ready(client, auth_headers, task, slot, declarant, operator):
    book(client, auth_headers(declarant), task.id, slot.id)

    response = act(client, auth_headers(operator), task.id, "goods-ready")

    assert response.status_code == 200
    assert response.json["status"] == "goods_ready"
    assert response.json["goods_ready_at"]
    assert timeline(client, auth_headers(operator), task.declaration_id)[-1]["step"] == "inspection_goods_ready"


def test_goods_cannot_be_ready_before_a_booking(client, auth_headers, task, operator):
    response = act(client, auth_headers(operator), task.id, "goods-ready")

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


def test_an_officer_cannot_start_before_the_goods_are_ready(client, auth_headers, task, slot, declarant, officer):
    book(client, auth_headers(declarant), task.id, slot.id)

    response = act(client, auth_headers(officer), task.id, "start")

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


def test_an_inspection_runs_to_a_normal_result(
    client, session, auth_headers, in_progress, officer, declarant, operator
):
    response = act(client, auth_headers(officer), in_progress.id, "result", {"result": "normal", "notes": "货证相符"})

    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["result"], body["disposal"]) == ("result_normal", "normal", None)
    assert body["officer_id"] == officer.id and body["started_at"] and body["result_at"]
    events = timeline(client, auth_headers(declarant), in_progress.declaration_id)
    assert [event["step"] for event in events[-3:]] == [
        "inspection_goods_ready",
        "inspection_started",
        "inspection_result",
    ]
    assert events[-1]["disposition"] == "conformant"
    assert {event["biz_step"] for event in events if event["step"].startswith("inspection_")} == {"inspecting"}
    for user in (declarant, operator):
        [notice] = notices_of(session, user, NoticeKind.INSPECTION_RESULT)
        assert "正常" in notice.title


def test_a_suspicious_machine_image_goes_to_open_box_recheck(client, auth_headers, in_progress, officer, declarant):
    response = act(client, auth_headers(officer), in_progress.id, "recheck", {"reason": "图像疑似夹藏"})
    result = act(client, auth_headers(officer), in_progress.id, "result", {"result": "normal"})

    assert response.status_code == 200
    assert (response.json["status"], response.json["method"]) == ("recheck", "open_box")
    assert result.status_code == 200 and result.json["status"] == "result_normal"
    recheck = timeline(client, auth_headers(declarant), in_progress.declaration_id)[-2]
    assert recheck["step"] == "inspection_recheck"
    assert recheck["details"]["previous_method"] == "machine"


def test_an_abnormal_result_needs_a_disposal(client, auth_headers, in_progress, officer):
    response = act(client, auth_headers(officer), in_progress.id, "result", {"result": "abnormal"})

    assert response.status_code == 422
    assert "disposal" in response.json["errors"]["json"]


def test_an_abnormal_result_is_disposed_of(client, auth_headers, in_progress, officer, declarant):
    response = act(
        client,
        auth_headers(officer),
        in_progress.id,
        "result",
        {"result": "abnormal", "disposal": "tax", "notes": "低报价格"},
    )

    assert response.status_code == 200
    assert (response.json["status"], response.json["disposal"]) == ("disposed", "tax")
    events = timeline(client, auth_headers(declarant), in_progress.declaration_id)[-2:]
    assert [(event["step"], event["disposition"]) for event in events] == [
        ("inspection_result", "non_conformant"),
        ("inspection_disposed", "non_conformant"),
    ]


def test_a_result_cannot_be_recorded_twice_differently(client, auth_headers, in_progress, officer):
    act(client, auth_headers(officer), in_progress.id, "result", {"result": "normal"})

    response = act(client, auth_headers(officer), in_progress.id, "result", {"result": "abnormal", "disposal": "amend"})

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


# The officer's queue


def test_the_officer_queue_lists_a_sites_tasks_by_appointment_time(
    client, session, auth_headers, officer, declarant, warehouse, site
):
    day = hours_from_now(24).replace(hour=2)  # 10:00 in China, the next day
    late, early = (
        make_slot(session, site=site, starts_at=day + timedelta(hours=3)),
        make_slot(session, site=site, starts_at=day),
    )
    elsewhere = make_slot(session, starts_at=day + timedelta(hours=1))
    tasks = [another_task(session, declarant, warehouse) for _ in range(3)]
    for task, slot in zip(tasks, (late, early, elsewhere), strict=True):
        assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200

    response = client.get(
        f"{SITES}/{site.id}/queue",
        query_string={
            "since": day.replace(hour=0).isoformat(),
            "until": (day.replace(hour=0) + timedelta(days=1)).isoformat(),
        },
        headers=auth_headers(officer),
    )

    assert response.status_code == 200
    assert [item["id"] for item in response.json["items"]] == [tasks[1].id, tasks[0].id]
    assert response.json["items"][0]["declaration"]["cop_no"]


def test_the_queue_window_is_at_most_a_day(client, auth_headers, officer, site):
    since = datetime(2026, 11, 23, tzinfo=UTC)

    response = client.get(
        f"{SITES}/{site.id}/queue",
        query_string={"since": since.isoformat(), "until": (since + timedelta(days=2)).isoformat()},
        headers=auth_headers(officer),
    )

    assert response.status_code == 422


def test_declarants_have_no_queue(client, auth_headers, declarant, site):
    assert client.get(f"{SITES}/{site.id}/queue", headers=auth_headers(declarant)).status_code == 403
