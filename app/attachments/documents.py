"""Documents on a list: store a PDF, JPEG or PNG once, list them, find the file to send, withdraw one.

A list here is a declaration of either kind (an import inventory list or an export list): both live in
`declarations`, and who may see one is `declarations.service.visible_to`.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import IO

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.attachments import scanning
from app.attachments.models import Attachment, DocumentKind, answer_attachments
from app.audit import service as audit
from app.common import uploads
from app.declarations.models import Declaration
from app.declarations.service import visible_to
from app.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from app.i18n import _, _l
from app.users.models import User

ATTACHMENT_DIR = "attachments"
ATTACHMENT_TYPES = (uploads.PDF, uploads.JPEG, uploads.PNG)
# A list's documents come back in one answer, so their number is bounded here, not by pagination.
MAX_ATTACHMENTS_PER_LIST = 50
FILE_NAME_LENGTH = 200
# Control characters and DEL never reach a file name we hand back (folders are cut off separately).
UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")
SUFFIXES = {"application/pdf": (".pdf",), "image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}


class UnsupportedAttachment(InvalidInput):
    code, title = "unsupported_attachment", _l("Not a PDF, JPEG or PNG file")


class AttachmentTooLarge(DomainError):
    status, code, title = 413, "attachment_too_large", _l("Document too large")


class AttachmentLimitReached(Conflict):
    code, title = "attachment_limit_reached", _l("Too many documents on one list")


class AttachmentInUse(Conflict):
    code, title = "attachment_in_use", _l("Document cited by an answer")


class NotUploader(PermissionDenied):
    code, title = "not_uploader", _l("Only the uploader may do this")


def get_list_for(session: Session, declaration_id: int, *, viewer: User, lock: bool = False) -> Declaration:
    """A list (import or export) `viewer` may see; someone else's is simply not there (404)."""
    statement = select(Declaration).where(Declaration.id == declaration_id, visible_to(viewer))
    if lock:
        statement = statement.with_for_update()
    declaration = session.scalar(statement)
    if declaration is None:
        raise NotFound(_("List %(declaration_id)s does not exist.", declaration_id=declaration_id))
    return declaration


def add_attachment(
    session: Session,
    declaration_id: int,
    *,
    uploader: User,
    kind: DocumentKind,
    file_name: str | None,
    stream: IO[bytes],
    upload_dir: Path,
    max_bytes: int,
    scanner: scanning.Scanner,
) -> Attachment:
    """Store a document on a list once its type, size and virus scan pass; the same file sent twice is stored once."""
    declaration = get_list_for(session, declaration_id, viewer=uploader)
    with uploads.receive(
        stream,
        directory=upload_dir / ATTACHMENT_DIR,
        types=ATTACHMENT_TYPES,
        max_bytes=max_bytes,
        unsupported=UnsupportedAttachment(
            _("The file is not a PDF, JPEG or PNG."), errors={"files": {"file": [_("Send a PDF, JPEG or PNG file.")]}}
        ),
        too_large=AttachmentTooLarge(_("A document may be at most %(max_bytes)s bytes.", max_bytes=max_bytes)),
    ) as received:
        scanning.check(scanner, received.part_path)
        # Twin uploads of one list take turns here, so the count and the duplicate check hold.
        get_list_for(session, declaration.id, viewer=uploader, lock=True)
        existing = session.scalar(
            select(Attachment).where(Attachment.declaration_id == declaration.id, Attachment.sha256 == received.sha256)
        )
        if existing is not None:
            return existing
        count = session.scalar(select(func.count()).where(Attachment.declaration_id == declaration.id)) or 0
        if count >= MAX_ATTACHMENTS_PER_LIST:
            raise AttachmentLimitReached(
                _("List %(id)s already has %(count)s documents, the most it keeps.", id=declaration.id, count=count)
            )
        received.keep()
        attachment = Attachment(
            declaration_id=declaration.id,
            document_kind=kind,
            file_name=clean_file_name(file_name, received.content_type),
            stored_name=received.stored_name,
            content_type=received.content_type,
            size=received.size,
            sha256=received.sha256,
            uploaded_by_id=uploader.id,
        )
        session.add(attachment)
        # A commit that fails later leaves an orphan file; harmless, and rarer than this.
        session.flush()
        audit.record(
            session,
            action="attachment.added",
            actor=audit.by(uploader),
            target=attachment,
            details={"declaration_id": declaration.id, "kind": kind.value, "sha256": received.sha256},
        )
    return attachment


def list_attachments(session: Session, declaration_id: int, *, viewer: User) -> list[Attachment]:
    """A list's documents in upload order (at most MAX_ATTACHMENTS_PER_LIST)."""
    declaration = get_list_for(session, declaration_id, viewer=viewer)
    return list(
        session.scalars(select(Attachment).where(Attachment.declaration_id == declaration.id).order_by(Attachment.id))
    )


def get_attachment_for(session: Session, attachment_id: int, *, viewer: User) -> Attachment:
    """A document on a list `viewer` may see, or NotFound."""
    attachment = session.scalar(
        select(Attachment)
        .join(Declaration, Declaration.id == Attachment.declaration_id)
        .where(Attachment.id == attachment_id, visible_to(viewer))
    )
    if attachment is None:
        raise NotFound(_("Document %(attachment_id)s does not exist.", attachment_id=attachment_id))
    return attachment


def withdraw_attachment(session: Session, attachment_id: int, *, uploader: User) -> Attachment:
    """Delete a document its uploader put on a list, unless an answer to customs cites it."""
    attachment = get_attachment_for(session, attachment_id, viewer=uploader)
    if attachment.uploaded_by_id != uploader.id:
        raise NotUploader(
            _(
                "Document %(attachment_id)s was uploaded by someone else; only they may delete it.",
                attachment_id=attachment_id,
            )
        )
    if session.scalar(select(exists().where(answer_attachments.c.attachment_id == attachment.id))):
        raise AttachmentInUse(
            _(
                "Document %(attachment_id)s is cited in an answer to customs and stays on the list.",
                attachment_id=attachment_id,
            )
        )
    session.delete(attachment)
    audit.record(
        session,
        action="attachment.deleted",
        actor=audit.by(uploader),
        target=attachment,
        details={"declaration_id": attachment.declaration_id, "sha256": attachment.sha256},
    )
    return attachment


def attachment_path(upload_dir: Path, attachment: Attachment) -> Path:
    """Where the document's file is stored."""
    return upload_dir / ATTACHMENT_DIR / attachment.stored_name


def clean_file_name(file_name: str | None, content_type: str) -> str:
    """The uploader's name for the file without any folder or control character, ending as its real type does."""
    name = UNSAFE_IN_NAME.sub("", PurePosixPath((file_name or "").replace("\\", "/")).name).strip()
    suffixes = SUFFIXES[content_type]
    # A PDF named invoice.exe is saved by the phone as invoice.exe.pdf, so it opens with the right app.
    if not name.lower().endswith(suffixes):
        name = (name or "document") + suffixes[0]
    if len(name) > FILE_NAME_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        name = stem[: FILE_NAME_LENGTH - len(suffix) - 1] + dot + suffix
    return name
