"""Documents on a list and customs' questions on the wire."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app.attachments.models import DocumentKind, QuestionStatus
from app.common.fields import BigInteger, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.declarations.models import DeclarationKind

MAX_ATTACHMENTS_PER_ANSWER = 20


class AttachmentTarget(Schema):
    declaration_id = BigInteger(
        required=True, metadata={"description": "The list (import inventory list or export list) the document is on."}
    )


class AttachmentCreate(AttachmentTarget):
    kind = fields.Enum(DocumentKind, by_value=True, required=True, metadata={"description": "What the document is."})


class AttachmentUpload(Schema):
    file = Upload(required=True, metadata={"description": "A PDF, JPEG or PNG file (its type is read from its bytes)."})


class AttachmentRead(Schema):
    id = BigInteger()
    declaration_id = BigInteger()
    kind = fields.Enum(DocumentKind, by_value=True, attribute="document_kind")
    file_name = String(metadata={"description": "As uploaded, without folders; ends as its real type does."})
    content_type = String()
    size = Integer()
    sha256 = String()
    uploaded_by_id = Integer()
    uploaded_at = fields.DateTime()
    content_url = fields.Function(
        lambda attachment: f"/api/v1/attachments/{attachment.id}",
        metadata={"type": "string", "description": "Where to download it."},
    )


class QuestionCreate(Schema):
    declaration_id = BigInteger(required=True, metadata={"description": "The list (import or export) asked about."})
    request = TrimmedString(
        required=True, validate=validate.Length(min=1, max=2000), metadata={"description": "What is needed."}
    )
    due_by = fields.AwareDateTime(
        required=True, metadata={"description": "By when (ISO 8601 with offset; in the future, at most 90 days on)."}
    )


class AnswerCreate(Schema):
    text = TrimmedString(required=True, validate=validate.Length(min=1, max=4000))
    attachment_ids = fields.List(
        BigInteger(),
        load_default=list,
        validate=validate.Length(max=MAX_ATTACHMENTS_PER_ANSWER),
        metadata={"description": "Documents already uploaded to the same list."},
    )


class QuestionClose(Schema):
    note = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class QuestionQuery(PageQuery):
    declaration_id = BigInteger(load_default=None, metadata={"description": "Only this list's questions."})
    status = fields.Enum(QuestionStatus, by_value=True, load_default=None)


class AnswerRead(Schema):
    id = BigInteger()
    text = String()
    attachment_ids = fields.List(BigInteger())
    answered_by_id = Integer()
    answered_at = fields.DateTime()


class QuestionRead(Schema):
    id = BigInteger()
    declaration_id = BigInteger()
    list_kind = fields.Enum(DeclarationKind, by_value=True, attribute="declaration.kind")
    list_number = fields.Function(
        lambda question: question.declaration.invt_no or question.declaration.cop_no,
        metadata={
            "type": "string",
            "description": "Customs' list number, or the enterprise's own reference before customs gives one.",
        },
    )
    status = fields.Enum(QuestionStatus, by_value=True)
    request = String()
    due_by = fields.DateTime()
    overdue = fields.Boolean(metadata={"description": "Open past due_by."})
    asked_by_id = Integer()
    asked_at = fields.DateTime()
    answers = fields.List(fields.Nested(AnswerRead))
    closed_by_id = Integer(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    closing_note = String(allow_none=True)


QuestionPage = page_schema(QuestionRead, "QuestionPage")
