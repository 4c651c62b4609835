"""Calls the inspection tests make over and over."""

import io

from app.declarations.models import DeclarationStatus
from tests.factories import make_declaration, make_task

TASKS = "/api/v1/inspection-tasks"
SITES = "/api/v1/inspection-sites"

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200


def book(client, headers, task_id, slot_id):
    return client.put(f"{TASKS}/{task_id}/appointment", json={"slot_id": slot_id}, headers=headers)


def act(client, headers, task_id, action, body=None):
    return client.post(f"{TASKS}/{task_id}/{action}", json=body, headers=headers)


def upload(client, headers, task_id, content, filename="photo.jpg", content_type="image/jpeg"):
    return client.post(
        f"{TASKS}/{task_id}/photos",
        data={"photo": (io.BytesIO(content), filename, content_type)},
        headers=headers,
        content_type="multipart/form-data",
    )


def timeline(client, headers, declaration_id):
    response = client.get(f"/api/v1/declarations/{declaration_id}/timeline", headers=headers)
    assert response.status_code == 200
    return response.json["events"]


def another_task(session, declarant, warehouse):
    """A task on a further declaration of the same declarant and warehouse."""
    declaration = make_declaration(
        session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.INSPECTION
    )
    return make_task(session, declaration=declaration)
