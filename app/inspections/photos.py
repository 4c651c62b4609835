"""Photos of an inspection: store a JPEG or PNG once, list them, find the file to send."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.declarations.status import InvalidTransition
from app.errors import NotFound
from app.inspections.models import InspectionPhoto
from app.inspections.rules import PhotoLimitReached, PhotoTooLarge, UnsupportedPhoto
from app.inspections.tasks import get_task_for, lock_task_for
from app.users.models import User

MAX_PHOTOS_PER_TASK = 30
PHOTO_CHUNK = 64 * 1024
PHOTO_DIR = "inspections"
# File signatures: the client's Content-Type and file name prove nothing about the bytes.
PHOTO_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg", ".jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"))


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
        raise InvalidTransition(f"Inspection task {task.task_no} has not started; photos come from the inspection.")
    head = stream.read(8)
    signature = next((found for found in PHOTO_SIGNATURES if head.startswith(found[0])), None)
    if signature is None:
        raise UnsupportedPhoto(
            "The file is not a JPEG or PNG image.", errors={"files": {"photo": ["Send a JPEG or PNG image."]}}
        )
    _, content_type, suffix = signature
    directory = upload_dir / PHOTO_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + suffix
    partial = directory / f"{stored_name}.part"
    digest, size = hashlib.sha256(head), len(head)
    try:
        with partial.open("xb") as out:
            out.write(head)
            while chunk := stream.read(PHOTO_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PhotoTooLarge(f"A photo may be at most {max_bytes} bytes.")
                digest.update(chunk)
                out.write(chunk)
        sha256 = digest.hexdigest()
        existing = session.scalar(
            select(InspectionPhoto).where(InspectionPhoto.task_id == task.id, InspectionPhoto.sha256 == sha256)
        )
        if existing is not None:
            return existing
        taken = session.scalar(select(func.count()).where(InspectionPhoto.task_id == task.id)) or 0
        if taken >= MAX_PHOTOS_PER_TASK:
            raise PhotoLimitReached(f"Inspection task {task.task_no} already has {taken} photos, the most it keeps.")
        partial.replace(directory / stored_name)
    finally:
        partial.unlink(missing_ok=True)
    photo = InspectionPhoto(
        task_id=task.id,
        stored_name=stored_name,
        content_type=content_type,
        size=size,
        sha256=sha256,
        uploaded_by_id=officer.id,
    )
    session.add(photo)
    try:
        session.flush()
        audit.record(
            session,
            action="inspection.photo_added",
            actor=audit.by(officer),
            target=task,
            details={"photo_id": photo.id, "sha256": sha256, "size": size},
        )
    except BaseException:
        # A commit that fails later leaves an orphan file; harmless, and rarer than this.
        (directory / stored_name).unlink(missing_ok=True)
        raise
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
        raise NotFound(f"Photo {photo_id} of inspection task {task_id} does not exist.")
    return photo


def photo_path(upload_dir: Path, photo: InspectionPhoto) -> Path:
    """Where the photo's file is stored."""
    return upload_dir / PHOTO_DIR / photo.stored_name
