from flask import current_app
from flask.views import MethodView

from app import db
from app.auth.guards import current_user, require_role
from app.common.blueprint import Blueprint
from app.common.figures import FiguresQuery
from app.config import current_settings
from app.exports import epcis, figures
from app.exports.figures_schemas import ExportFiguresRead
from app.users.models import Role

blp = Blueprint(
    "export_figures",
    __name__,
    url_prefix="/api/v1",
    description="Export figures for admins, and an export list's parcels as EPCIS 2.0.",
)

EPCIS_MEDIA_TYPE = "application/ld+json"
# Who sees an export list sees its EPCIS document; the list's own rules then apply (404 for someone else's).
LIST_READERS = (Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN)


@blp.route("/admin/figures/exports")
class ExportFigures(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(FiguresQuery, location="query")
    @blp.response(200, ExportFiguresRead)
    def get(self, query):
        """Per Shanghai day, for export lists submitted then: parcels, line diverts, rechecks, time to departure."""
        with db.transaction() as session:
            return figures.export_figures(session, **query)


@blp.route("/export-lists/<int:declaration_id>/epcis")
class ExportListEpcis(MethodView):
    @require_role(*LIST_READERS)
    @blp.doc(
        responses={
            "200": {
                "description": "An EPCIS 2.0 EPCISDocument: commissioning at scan-in, inspecting at the line and "
                "recheck, packing into bags and loading into containers (AggregationEvents), departing.",
                "content": {EPCIS_MEDIA_TYPE: {"schema": {"type": "object"}}},
            }
        }
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, declaration_id):
        """The list's parcels from scan-in to departure as an EPCIS 2.0 document (CBV 2.0 terms)."""
        with db.transaction() as session:
            document = epcis.export_list_document(
                session, declaration_id, viewer=current_user(), host=current_settings().trace_host
            )
        response = current_app.json.response(document)
        response.mimetype = EPCIS_MEDIA_TYPE
        return response
