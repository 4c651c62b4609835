"""An inspection photo as an HTTP answer, for the API's route and the console's page alike."""

from __future__ import annotations

from flask import Response, send_file

from app.config import current_settings
from app.inspections import photos
from app.inspections.models import InspectionPhoto


def photo_response(photo: InspectionPhoto) -> Response:
    """The photo's file, cached only by the browser that signed in, never sniffed."""
    response = send_file(
        photos.photo_path(current_settings().upload_dir, photo),
        mimetype=photo.content_type,
        etag=photo.sha256,
        conditional=True,
    )
    # Photos sit behind sign-in: no shared cache may keep them; the browser must not sniff.
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
