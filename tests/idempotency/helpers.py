"""Send one write twice with one Idempotency-Key, as a phone retrying after a lost answer does."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session


def twice(client, method: str, url: str, *, headers: dict[str, str], **request: Any):
    """The first answer, after checking the retry replayed it exactly (status, type, bytes) without redoing it.

    A callable `data` is called for each request: a multipart body's files are streams, read once.
    """
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}

    def send():
        body = {name: value() if callable(value) else value for name, value in request.items()}
        return client.open(url, method=method, headers=keyed, **body)

    first = send()
    retry = send()
    assert 200 <= first.status_code < 300, first.get_data(as_text=True)
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers.get("Idempotent-Replayed") == "true", retry.get_data(as_text=True)
    assert retry.status_code == first.status_code
    assert retry.headers.get("Content-Type") == first.headers.get("Content-Type")
    assert retry.get_data() == first.get_data()
    return first


def count(session: Session, model: type, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def audited(session: Session, action: str) -> int:
    """How many times the audit chain recorded `action`: a write done twice is recorded twice."""
    from app.audit.models import AuditEvent

    return count(session, AuditEvent, AuditEvent.action == action)
