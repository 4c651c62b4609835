from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from flask import current_app, request, send_file
from flask.views import MethodView

from app import db
from app.attachments import documents, questions, scanning
from app.attachments.schemas import (
    AnswerCreate,
    AttachmentCreate,
    AttachmentRead,
    AttachmentTarget,
    AttachmentUpload,
    QuestionClose,
    QuestionCreate,
    QuestionPage,
    QuestionQuery,
    QuestionRead,
)
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.common.pagination import PageQuery
from app.config import current_settings
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "attachments",
    __name__,
    url_prefix="/api/v1",
    description="Documents on a list (invoice, packing list, contract, licence) and customs' questions about it.",
)

UPLOADERS = (Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER)
# Room for the multipart boundaries and headers around the document itself.
MULTIPART_OVERHEAD = 64 * 1024
TOO_LARGE = HTTPStatus.REQUEST_ENTITY_TOO_LARGE.name
BINARY = {"schema": {"type": "string", "format": "binary"}}
DOCUMENT_TYPES = {"application/pdf": BINARY, "image/jpeg": BINARY, "image/png": BINARY}


def document_sized_body(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let this request's body reach the document limit; the app-wide limit is sized for JSON."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = current_settings().attachment_max_bytes + MULTIPART_OVERHEAD
        return view(*args, **kwargs)

    return wrapped


@blp.route("/attachments")
class Attachments(MethodView):
    @require_role()
    @blp.arguments(AttachmentTarget, location="query")
    @blp.response(200, AttachmentRead(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query):
        """List a list's documents in upload order."""
        with db.transaction() as session:
            return documents.list_attachments(session, query["declaration_id"], viewer=current_user())

    @require_role(*UPLOADERS)
    @document_sized_body
    @idempotent
    @blp.arguments(AttachmentCreate, location="query")
    @blp.arguments(AttachmentUpload, location="files")
    @blp.response(201, AttachmentRead)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(413, response=TOO_LARGE)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def post(self, target, payload):
        """Upload a PDF, JPEG or PNG document to a list (multipart field `file`; list and kind in the query)."""
        settings = current_settings()
        with db.transaction() as session:
            return documents.add_attachment(
                session,
                target["declaration_id"],
                uploader=current_user(),
                kind=target["kind"],
                file_name=payload["file"].filename,
                stream=payload["file"].stream,
                upload_dir=settings.upload_dir,
                max_bytes=settings.attachment_max_bytes,
                scanner=current_app.extensions.get(scanning.EXTENSION_KEY, scanning.NO_SCAN),
            )


@blp.route("/attachments/<int:attachment_id>")
class AttachmentById(MethodView):
    @require_role()
    @blp.doc(responses={"200": {"description": "The document", "content": DOCUMENT_TYPES}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, attachment_id):
        """Download a document of a list."""
        with db.transaction() as session:
            attachment = documents.get_attachment_for(session, attachment_id, viewer=current_user())
        response = send_file(
            documents.attachment_path(current_settings().upload_dir, attachment),
            mimetype=attachment.content_type,
            as_attachment=True,
            download_name=attachment.file_name,
            etag=attachment.sha256,
            conditional=True,
        )
        # Documents sit behind sign-in: no shared cache may keep them; the browser must not sniff or run them.
        response.headers["Cache-Control"] = "private, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "sandbox"
        return response

    @require_role(*UPLOADERS)
    @idempotent
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, attachment_id):
        """Delete a document you uploaded, unless an answer to customs cites it."""
        with db.transaction() as session:
            attachment = documents.withdraw_attachment(session, attachment_id, uploader=current_user())
        # Only once the row is gone for good: a rolled-back delete must still find its file.
        documents.attachment_path(current_settings().upload_dir, attachment).unlink(missing_ok=True)


@blp.route("/questions")
class Questions(MethodView):
    @require_role()
    @blp.arguments(QuestionQuery, location="query")
    @blp.response(200, QuestionPage)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query):
        """List customs' questions on the lists you may see (or on one list), newest first."""
        with db.transaction() as session:
            return questions.list_questions(session, viewer=current_user(), **query)

    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(QuestionCreate)
    @blp.response(201, QuestionRead)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, payload):
        """Ask the declarants of a list for information by a time; they are notified at once."""
        with db.transaction() as session:
            return questions.ask(session, payload.pop("declaration_id"), officer=current_user(), **payload)


@blp.route("/questions/<int:question_id>")
class QuestionById(MethodView):
    @require_role()
    @blp.response(200, QuestionRead)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, question_id):
        """Read a question with its answers."""
        with db.transaction() as session:
            return questions.get_question_for(session, question_id, viewer=current_user())


@blp.route("/questions/<int:question_id>/answers")
class QuestionAnswers(MethodView):
    @require_role(Role.DECLARANT)
    @idempotent
    @blp.arguments(AnswerCreate)
    @blp.response(201, QuestionRead)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, question_id):
        """Answer a question with text and documents already uploaded to the same list."""
        with db.transaction() as session:
            return questions.answer(session, question_id, declarant=current_user(), **payload)


@blp.route("/questions/<int:question_id>/close")
class QuestionClosing(MethodView):
    @require_role(Role.CUSTOMS_OFFICER)
    @idempotent
    @blp.arguments(QuestionClose)
    @blp.response(200, QuestionRead)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, question_id):
        """Close a question, answered or not."""
        with db.transaction() as session:
            return questions.close(session, question_id, officer=current_user(), **payload)


@blp.route("/me/questions")
class QuestionsWaitingOnMe(MethodView):
    @require_role()
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, QuestionPage)
    def get(self, query):
        """Questions waiting on you, newest first: a declarant's open ones, an officer's answered ones."""
        with db.transaction() as session:
            return questions.waiting_on(session, user=current_user(), **query)
