"""Documents on a list (invoice, packing list, contract, licence) and customs' questions about it (补充资料)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.declarations.models import Declaration


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    PACKING_LIST = "packing_list"
    CONTRACT = "contract"
    LICENCE = "licence"
    OTHER = "other"


class Attachment(Base):
    """A document on a list (a declaration, import or export); the file lives under Settings.upload_dir."""

    __tablename__ = "attachments"
    __table_args__ = (
        # The same file sent twice to one list (a retry, a second tap) is stored once.
        UniqueConstraint("declaration_id", "sha256"),
        Index("ix_attachments_declaration_id_id", "declaration_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    document_kind: Mapped[DocumentKind] = mapped_column(enum_type(DocumentKind))
    # As the uploader named it (cleaned), for Content-Disposition only: the file on disk has a random name.
    file_name: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.utcnow)


class QuestionStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Question(Base):
    """Customs asks for more on a list (补充资料/要求说明): what is needed and by when."""

    __tablename__ = "list_questions"
    __table_args__ = (
        Index("ix_list_questions_declaration_id_id", "declaration_id", "id"),
        # "Waiting on me", newest first: the open questions of a declarant's enterprise, an officer's answered ones.
        Index("ix_list_questions_enterprise_status_id", "declaring_enterprise_id", "status", "id"),
        Index("ix_list_questions_asked_by_status_id", "asked_by_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    # Denormalised from the list, so a declarant's questions are found without joining every list.
    declaring_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    status: Mapped[QuestionStatus] = mapped_column(enum_type(QuestionStatus), default=QuestionStatus.OPEN)
    request: Mapped[str] = mapped_column(String(2000))
    due_by: Mapped[datetime]
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    asked_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    closing_note: Mapped[str | None] = mapped_column(String(1000))

    @property
    def overdue(self) -> bool:
        """Still waiting on the declarant after the time customs gave."""
        return self.status is QuestionStatus.OPEN and clock.utcnow() > self.due_by

    declaration: Mapped[Declaration] = relationship()
    answers: Mapped[list[Answer]] = relationship(
        back_populates="question", order_by="Answer.id", cascade="all, delete-orphan"
    )


answer_attachments = Table(
    "answer_attachments",
    Base.metadata,
    Column("answer_id", ForeignKey("question_answers.id", ondelete="CASCADE"), primary_key=True),
    # RESTRICT: an attachment an answer cites cannot go (service.withdraw_attachment says so first).
    Column("attachment_id", ForeignKey("attachments.id"), primary_key=True, index=True),
)


class Answer(Base):
    """A declarant's reply to a question: text and documents of the same list."""

    __tablename__ = "question_answers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("list_questions.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(4000))
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    question: Mapped[Question] = relationship(back_populates="answers")
    attachments: Mapped[list[Attachment]] = relationship(secondary=answer_attachments, order_by=Attachment.id)

    @property
    def attachment_ids(self) -> list[int]:
        return [attachment.id for attachment in self.attachments]
