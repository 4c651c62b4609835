"""Photos of an inspection: store a JPEG or PNG once, list them, find the file to send."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import uploads
from app.declarations.status import InvalidTransition
from app.errors import NotFound
from app.i18n import _
from app.inspections.models import InspectionPhoto
from app.inspections.rules import PhotoLimitReached, PhotoTooLarge, UnsupportedPhoto
from app.inspections.tasks import get_task_for, lock_task_for
from app.users.models import User

MAX_PHOTOS_PER_TASK = 30
PHOTO_DIR = "inspections"
PHOTO_TYPES = (uploads.JPEG, uploads.PNG)


def add_photo(
    session: Session,
    task_id: int,
    *,
    officer: User,
    stream: IO[bytes],
    upload_dir: Path,
    max_bytes: int,
) -> InspectionPhoto:
    """Store a JPEG or PNG photo of an inspection; the same photo sent twice is stored once."""
    task = lock_task_for(session, task_id, viewer=officer)
    if task.started_at is None:
        raise InvalidTransition(
            _("Inspection task %(task_no)s has not started; photos come from the inspection.", task_no=task.task_no)
        )
    directory = upload_dir / PHOTO_DIR
    with uploads.receive(
        stream,
        directory=directory,
        types=PHOTO_TYPES,
        max_bytes=max_bytes,
        unsupported=UnsupportedPhoto(
            _("The file is not a JPEG or PNG image."), errors={"files": {"photo": [_("Send a JPEG or PNG image.")]}}
        ),
        too_large=PhotoTooLarge(_("A photo may be at most %(max_bytes)s bytes.", max_bytes=max_bytes)),
    ) as received:
        existing = session.scalar(
            select(InspectionPhoto).where(InspectionPhoto.task_id == task.id, InspectionPhoto.sha256 == received.sha256)
        )
        if existing is not None:
            return existing
        taken = session.scalar(select(func.count()).where(InspectionPhoto.task_id == task.id)) or 0
        if taken >= MAX_PHOTOS_PER_TASK:
            raise PhotoLimitReached(
                _(
                    "Inspection task %(task_no)s already has %(taken)s photos, the most it keeps.",
                    task_no=task.task_no,
                    taken=taken,
                )
            )
        received.keep()
        photo = InspectionPhoto(
            task_id=task.id,
            stored_name=received.stored_name,
            content_type=received.content_type,
            size=received.size,
            sha256=received.sha256,
            uploaded_by_id=officer.id,
        )
        session.add(photo)
        # A commit that fails later leaves an orphan file; harmless, and rarer than this.
        session.flush()
        audit.record(
            session,
            action="inspection.photo_added",
            actor=audit.by(officer),
            target=task,
            details={"photo_id": photo.id, "sha256": received.sha256, "size": received.size},
        )
    return photo


def list_photos(session: Session, task_id: int, *, viewer: User) -> list[InspectionPhoto]:
    """A task's photos in upload order (at most MAX_PHOTOS_PER_TASK)."""
    task = get_task_for(session, task_id, viewer=viewer)
    return list(
        session.scalars(select(InspectionPhoto).where(InspectionPhoto.task_id == task.id).order_by(InspectionPhoto.id))
    )


def get_photo_for(session: Session, task_id: int, photo_id: int, *, viewer: User) -> InspectionPhoto:
    """A photo of a task `viewer` may see, or NotFound."""
    task = get_task_for(session, task_id, viewer=viewer)
    photo = session.get(InspectionPhoto, photo_id)
    if photo is None or photo.task_id != task.id:
        raise NotFound(
            _("Photo %(photo_id)s of inspection task %(task_id)s does not exist.", photo_id=photo_id, task_id=task_id)
        )
    return photo


def photo_path(upload_dir: Path, photo: InspectionPhoto) -> Path:
    """Where the photo's file is stored."""
    return upload_dir / PHOTO_DIR / photo.stored_name
