"""Creating notices for the people a decision concerns, inside the decision's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.common.pagination import Page, paginate
from app.notices.models import Notice, NoticeKind
from app.users.models import Role, User


def notify_enterprise(
    session: Session,
    *,
    enterprise_id: int,
    roles: Iterable[Role],
    kind: NoticeKind,
    title: str,
    body: str,
    declaration_id: int | None = None,
    link: str | None = None,
) -> list[Notice]:
    """One notice for each active user of the enterprise who holds one of `roles`; it links to
    `link`, or by default to the declaration."""
    if link is None and declaration_id:
        link = f"/api/v1/declarations/{declaration_id}"
    notices = [
        Notice(
            recipient_id=user_id,
            kind=kind,
            title=title[:200],
            body=body[:1000],
            link=link,
            declaration_id=declaration_id,
        )
        for user_id in _recipients(session, enterprise_id, frozenset(roles))
    ]
    session.add_all(notices)
    return notices


def _recipients(session: Session, enterprise_id: int, roles: frozenset[Role]) -> list[int]:
    # A receipt batch notifies the same few enterprises many times; ask the database once per transaction.
    cache: dict[tuple[int, frozenset[Role]], list[int]] = session.info.setdefault("notice_recipients", {})
    key = (enterprise_id, roles)
    if key not in cache:
        cache[key] = list(
            session.scalars(
                select(User.id).where(
                    User.enterprise_id == enterprise_id, User.role.in_(roles), User.is_active.is_(True)
                )
            )
        )
    return cache[key]


def list_notices(session: Session, *, recipient: User, cursor: int | None = None, limit: int) -> Page[Notice]:
    """A user's own notices, newest first."""
    statement: Select[Any] = select(Notice).where(Notice.recipient_id == recipient.id)
    return paginate(session, statement, key=Notice.id, cursor=cursor, limit=limit)
