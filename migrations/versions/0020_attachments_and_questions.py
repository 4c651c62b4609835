"""Documents on a list and customs' questions about it (issue 21, item 2): attachments, list_questions,
question_answers and answer_attachments (which documents an answer cites; such a document cannot be deleted).

New tables only: nothing existing is rewritten or locked.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "document_kind",
            sa.Enum(
                "invoice",
                "packing_list",
                "contract",
                "licence",
                "other",
                name="documentkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_attachments_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"], name=op.f("fk_attachments_uploaded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("declaration_id", "sha256", name=op.f("uq_attachments_declaration_id_sha256")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_attachments_stored_name")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index("ix_attachments_declaration_id_id", ["declaration_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachments_uploaded_by_id"), ["uploaded_by_id"], unique=False)

    op.create_table(
        "list_questions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaring_enterprise_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "answered", "closed", name="questionstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("request", sa.String(length=2000), nullable=False),
        sa.Column("due_by", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closing_note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["asked_by_id"], ["users.id"], name=op.f("fk_list_questions_asked_by_id_users")),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_list_questions_closed_by_id_users")),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_list_questions_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["declaring_enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_list_questions_declaring_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_questions")),
    )
    with op.batch_alter_table("list_questions", schema=None) as batch_op:
        batch_op.create_index("ix_list_questions_asked_by_status_id", ["asked_by_id", "status", "id"], unique=False)
        batch_op.create_index("ix_list_questions_declaration_id_id", ["declaration_id", "id"], unique=False)
        batch_op.create_index(
            "ix_list_questions_enterprise_status_id", ["declaring_enterprise_id", "status", "id"], unique=False
        )

    op.create_table(
        "question_answers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["users.id"], name=op.f("fk_question_answers_answered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["list_questions.id"],
            name=op.f("fk_question_answers_question_id_list_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_answers")),
    )
    with op.batch_alter_table("question_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_answers_question_id"), ["question_id"], unique=False)

    op.create_table(
        "answer_attachments",
        sa.Column("answer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attachment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["question_answers.id"],
            name=op.f("fk_answer_attachments_answer_id_question_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"], ["attachments.id"], name=op.f("fk_answer_attachments_attachment_id_attachments")
        ),
        sa.PrimaryKeyConstraint("answer_id", "attachment_id", name=op.f("pk_answer_attachments")),
    )
    with op.batch_alter_table("answer_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_attachments_attachment_id"), ["attachment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("answer_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_attachments_attachment_id"))

    op.drop_table("answer_attachments")
    with op.batch_alter_table("question_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_question_answers_question_id"))

    op.drop_table("question_answers")
    with op.batch_alter_table("list_questions", schema=None) as batch_op:
        batch_op.drop_index("ix_list_questions_enterprise_status_id")
        batch_op.drop_index("ix_list_questions_declaration_id_id")
        batch_op.drop_index("ix_list_questions_asked_by_status_id")

    op.drop_table("list_questions")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_uploaded_by_id"))
        batch_op.drop_index("ix_attachments_declaration_id_id")

    op.drop_table("attachments")
