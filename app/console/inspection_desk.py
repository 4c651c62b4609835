"""Officers' inspection queue: a site's booked inspections of one day, by slot, with the goods' lines and the
photos taken so far (the photos served here with the API's own check: app/inspections/photos.get_photo_for)."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields

from app import db
from app.auth.guards import current_user
from app.common.fields import Integer
from app.console.desk import label
from app.console.forms import load_form
from app.console.signin import console_login_required
from app.inspections import photos, sites, tasks
from app.inspections.photo_download import photo_response
from app.inspections.rules import SHANGHAI
from app.users.models import Role

bp = Blueprint("inspection_desk", __name__, url_prefix="/officer/inspections")
# A park has a handful of sites; the select lists them all.
SITES_SHOWN = 100


class QueueForm(Schema):
    site_id = Integer()
    day = fields.Date(metadata={"description": "The day in China; today when left out."})


@bp.get("")
@console_login_required(Role.CUSTOMS_OFFICER)
def index() -> ResponseReturnValue:
    """A site's inspections of one day by appointment time, with their goods and photos."""
    query, errors = load_form(QueueForm, request.args, fields=("site_id", "day"))
    with db.transaction() as session:
        all_sites = sites.list_sites(session, active=True, limit=SITES_SHOWN).items
        site_id = query.get("site_id") or (all_sites[0].id if all_sites else None)
        since = datetime.combine(query["day"], time(), SHANGHAI) if "day" in query else None
        queue = tasks.officer_queue(session, site_id, since=since) if site_id is not None else None
        items = queue["items"] if queue else []
        taken = {task.id: photos.list_photos(session, task.id, viewer=current_user()) for task in items}
    return render_template(
        "console/officer/inspections.html",
        sites=all_sites,
        site_id=site_id,
        queue=queue,
        photos=taken,
        errors=errors,
        args=request.args,
        label=label,
    )


@bp.get("/<int:task_id>/photos/<int:photo_id>")
@console_login_required(Role.CUSTOMS_OFFICER)
def photo(task_id: int, photo_id: int) -> ResponseReturnValue:
    """An inspection photo, to whoever may see the task (the API's check)."""
    with db.transaction() as session:
        found = photos.get_photo_for(session, task_id, photo_id, viewer=current_user())
    return photo_response(found)
