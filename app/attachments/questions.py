"""Customs' questions on a list (补充资料/要求说明): an officer asks, the declarants answer, the officer closes.

open → answered → closed; a question may be answered again until it is closed, and an officer may close one
that was never answered (withdrawn). Each step lands on the list's timeline and on the audit trail; the ask
notifies the declaring enterprise's declarants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.orm import Session, selectinload

from app.attachments.documents import get_list_for
from app.attachments.models import Answer, Attachment, Question, QuestionStatus
from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.models import Declaration
from app.declarations.status import InvalidTransition, record_event
from app.errors import InvalidInput, NotFound
from app.i18n import N_, _
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.text import Message
from app.users.models import Role, User

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Customs gives days, not months; a bound also keeps a year-9999 date from overflowing on its way to UTC.
LONGEST_WAIT = timedelta(days=90)
ASKED = Message(N_("Customs requests information"))
# Timeline titles are Chinese, as every other step's is.
ANSWERED = "已答复海关问询"
CLOSED = "海关问询已关闭"


def ask(session: Session, declaration_id: int, *, officer: User, request: str, due_by: datetime) -> Question:
    """Ask the declarants of a list for information by `due_by`, and tell them at once."""
    declaration = get_list_for(session, declaration_id, viewer=officer)
    now = clock.utcnow()
    if due_by <= now:
        raise InvalidInput.of_field("due_by", _("Must be in the future."))
    if due_by - now > LONGEST_WAIT:
        raise InvalidInput.of_field("due_by", _("May be at most %(days)s days on.", days=LONGEST_WAIT.days))
    question = Question(
        declaration=declaration,
        declaring_enterprise_id=declaration.declaring_enterprise_id,
        request=request,
        due_by=due_by,
        asked_by_id=officer.id,
    )
    session.add(question)
    session.flush()
    _on_timeline(session, question, step="question_asked", title=ASKED.zh, actor=officer, due_by=due_by.isoformat())
    audit.record(
        session,
        action="question.asked",
        actor=audit.by(officer),
        target=question,
        details={"declaration_id": declaration.id, "due_by": due_by.isoformat()},
    )
    number = _number(declaration)
    due = due_by.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    notices.notify_enterprise(
        session,
        enterprise_id=declaration.declaring_enterprise_id,
        roles=[Role.DECLARANT],
        kind=NoticeKind.QUESTION_ASKED,
        title=Message(N_("%(what)s: %(number)s"), what=ASKED, number=number),
        body=Message(N_("%(request)s (answer by %(due)s, Beijing time)"), request=request, due=due),
        source_key=f"question/{question.id}/asked",
        declaration_id=declaration.id,
        link=f"/api/v1/questions/{question.id}",
    )
    return question


def answer(
    session: Session, question_id: int, *, declarant: User, text: str, attachment_ids: Sequence[int]
) -> Question:
    """Answer a question with text and documents already on the same list."""
    question = get_question_for(session, question_id, viewer=declarant, lock=True)
    if question.status is QuestionStatus.CLOSED:
        raise InvalidTransition(_("Question %(id)s is closed; it takes no more answers.", id=question.id))
    attachments = _documents_of_list(session, question.declaration_id, attachment_ids)
    reply = Answer(question=question, text=text, answered_by_id=declarant.id, attachments=attachments)
    session.add(reply)
    question.status = QuestionStatus.ANSWERED
    session.flush()
    _on_timeline(session, question, step="question_answered", title=ANSWERED, actor=declarant, answer_id=reply.id)
    audit.record(
        session,
        action="question.answered",
        actor=audit.by(declarant),
        target=question,
        details={"answer_id": reply.id, "attachment_ids": [a.id for a in attachments]},
    )
    return question


def close(session: Session, question_id: int, *, officer: User, note: str | None = None) -> Question:
    """Close a question: answered enough, or withdrawn before any answer."""
    question = get_question_for(session, question_id, viewer=officer, lock=True)
    if question.status is QuestionStatus.CLOSED:
        raise InvalidTransition(_("Question %(id)s is already closed.", id=question.id))
    was = question.status
    question.status = QuestionStatus.CLOSED
    question.closed_by_id, question.closed_at, question.closing_note = officer.id, clock.utcnow(), note
    _on_timeline(session, question, step="question_closed", title=CLOSED, actor=officer, was=was.value)
    audit.record(
        session,
        action="question.closed",
        actor=audit.by(officer),
        target=question,
        details={"was": was.value, "note": note},
    )
    return question


def get_question_for(session: Session, question_id: int, *, viewer: User, lock: bool = False) -> Question:
    """A question on a list `viewer` may see, with its answers; anyone else's is not there (404)."""
    statement = _readable(select(Question).where(Question.id == question_id, _visible_to(viewer)))
    if lock:
        statement = statement.with_for_update(of=Question)
    question = session.scalar(statement)
    if question is None:
        raise NotFound(_("Question %(question_id)s does not exist.", question_id=question_id))
    return question


def list_questions(
    session: Session,
    *,
    viewer: User,
    declaration_id: int | None = None,
    status: QuestionStatus | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Question]:
    """Questions on lists the viewer may see (on one list when named), newest first."""
    if declaration_id is not None:
        get_list_for(session, declaration_id, viewer=viewer)
    statement = where_given(
        select(Question).where(_visible_to(viewer)),
        (Question.declaration_id, declaration_id),
        (Question.status, status),
    )
    return paginate(session, _readable(statement), key=Question.id, cursor=cursor, limit=limit)


def waiting_on(session: Session, *, user: User, cursor: int | None = None, limit: int) -> Page[Question]:
    """The questions waiting on `user`, newest first: a declarant's to answer, an officer's answered ones to close."""
    statement = _readable(select(Question).where(_waiting_on(user)))
    return paginate(session, statement, key=Question.id, cursor=cursor, limit=limit)


def count_waiting_on(session: Session, *, user: User) -> int:
    """How many questions wait on `user` (for a home screen)."""
    return session.scalar(select(func.count()).select_from(Question).where(_waiting_on(user))) or 0


def _waiting_on(user: User) -> ColumnElement[bool]:
    if user.role is Role.DECLARANT and user.enterprise_id is not None:
        return (Question.declaring_enterprise_id == user.enterprise_id) & (Question.status == QuestionStatus.OPEN)
    if user.role is Role.CUSTOMS_OFFICER:
        return (Question.asked_by_id == user.id) & (Question.status == QuestionStatus.ANSWERED)
    return false()


def _visible_to(viewer: User) -> ColumnElement[bool]:
    """The questions a user may see: those on the lists they may see (declarations.service.visible_to)."""
    if viewer.role in (Role.ADMIN, Role.CUSTOMS_OFFICER):
        return true()
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        # The question keeps its list's declaring enterprise, so this needs no join.
        return Question.declaring_enterprise_id == viewer.enterprise_id
    if viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id is not None:
        lists = select(Declaration.id).where(Declaration.warehouse_enterprise_id == viewer.enterprise_id)
        return Question.declaration_id.in_(lists)
    return false()


def _readable(statement: Select[tuple[Question]]) -> Select[tuple[Question]]:
    return statement.options(
        selectinload(Question.declaration),
        selectinload(Question.answers).selectinload(Answer.attachments),
    )


def _documents_of_list(session: Session, declaration_id: int, attachment_ids: Sequence[int]) -> list[Attachment]:
    wanted = list(dict.fromkeys(attachment_ids))
    if not wanted:
        return []
    found = list(
        session.scalars(
            select(Attachment)
            .where(Attachment.id.in_(wanted), Attachment.declaration_id == declaration_id)
            .order_by(Attachment.id)
        )
    )
    missing = sorted(set(wanted) - {attachment.id for attachment in found})
    if missing:
        raise InvalidInput.of_field(
            "attachment_ids",
            _("Not documents of this list: %(map)s. Upload them to it first.", map=", ".join(map(str, missing))),
        )
    return found


def _on_timeline(
    session: Session, question: Question, *, step: str, title: str, actor: User, **details: object
) -> None:
    record_event(
        session,
        question.declaration,
        step=step,
        title=title,
        status_changed=False,
        actor=actor,
        details={"question_id": question.id, **details},
    )


def _number(declaration: Declaration) -> str:
    return declaration.invt_no or declaration.cop_no
