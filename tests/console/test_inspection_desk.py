"""The officers' inspection queue: a site's booked inspections of a day, with the goods' lines and the photos."""

from __future__ import annotations

from app.inspections.rules import SHANGHAI
from app.users.models import Role
from tests.factories import make_user
from tests.inspections.conftest import declaration, in_progress, operator, site, slot, task, warehouse  # noqa: F401
from tests.inspections.helpers import JPEG, upload

QUEUE = "/console/officer/inspections"


def day_of(booked):
    return booked.starts_at.astimezone(SHANGHAI).date().isoformat()


def test_the_queue_shows_a_sites_booked_inspections_with_their_goods_and_photos(
    client,
    auth_headers,
    console_client,
    officer,
    in_progress,  # noqa: F811
    slot,  # noqa: F811
    site,  # noqa: F811
):
    photo = upload(client, auth_headers(officer), in_progress.id, JPEG).json
    desk = console_client(officer)

    page = desk.get(QUEUE, query_string={"site_id": site.id, "day": day_of(slot)}).data.decode()

    assert f'data-task="{in_progress.id}"' in page
    assert in_progress.declaration.lines[0].item_name in page
    src = f"{QUEUE}/{in_progress.id}/photos/{photo['id']}"
    assert f'src="{src}"' in page
    image = desk.get(src)
    assert (image.status_code, image.mimetype, image.data) == (200, "image/jpeg", JPEG)
    assert image.headers["X-Content-Type-Options"] == "nosniff"


def test_another_day_shows_no_inspections(console_client, officer, in_progress, site):  # noqa: F811
    page = console_client(officer).get(QUEUE, query_string={"site_id": site.id, "day": "2020-01-01"}).data

    assert f'data-task="{in_progress.id}"'.encode() not in page
    assert b"No inspections booked on this day." in page


def test_a_photo_of_an_unknown_task_is_not_found(client, auth_headers, console_client, officer, in_progress):  # noqa: F811
    photo = upload(client, auth_headers(officer), in_progress.id, JPEG).json

    answer = console_client(officer).get(f"{QUEUE}/{in_progress.id + 1000}/photos/{photo['id']}")

    assert answer.status_code == 404


def test_a_gate_operator_may_not_see_inspection_photos(
    client,
    auth_headers,
    console_client,
    session,
    officer,
    in_progress,  # noqa: F811
):
    photo = upload(client, auth_headers(officer), in_progress.id, JPEG).json
    gate_operator = make_user(session, role=Role.GATE_OPERATOR)

    assert console_client(gate_operator).get(f"{QUEUE}/{in_progress.id}/photos/{photo['id']}").status_code == 403
