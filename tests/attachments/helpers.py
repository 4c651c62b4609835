"""Calls the attachment and question tests make over and over."""

import io
from datetime import timedelta

from app.common import clock

ATTACHMENTS = "/api/v1/attachments"
QUESTIONS = "/api/v1/questions"

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 300 + b"\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200
# The EICAR test string every scanner reports as a virus, inside an otherwise acceptable PDF.
EICAR = PDF + rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def upload(client, headers, declaration_id, content=PDF, *, kind="invoice", filename="invoice.pdf", **extra):
    return client.post(
        ATTACHMENTS,
        query_string={"declaration_id": declaration_id, "kind": kind},
        data={"file": (io.BytesIO(content), filename, "application/octet-stream")},
        headers={**headers, **extra},
        content_type="multipart/form-data",
    )


def ask(client, headers, declaration_id, *, request="请提供商业发票原件", due_in=timedelta(days=3)):
    due_by = (clock.utcnow() + due_in).isoformat()
    return client.post(
        QUESTIONS, json={"declaration_id": declaration_id, "request": request, "due_by": due_by}, headers=headers
    )


def answer(client, headers, question_id, *, text="发票已上传", attachment_ids=()):
    return client.post(
        f"{QUESTIONS}/{question_id}/answers",
        json={"text": text, "attachment_ids": list(attachment_ids)},
        headers=headers,
    )


def timeline(client, headers, declaration_id):
    response = client.get(f"/api/v1/declarations/{declaration_id}/timeline", headers=headers)
    assert response.status_code == 200
    return response.json["events"]
