from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, current_user, require_role
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.goods import imports, service
from app.goods.schemas import (
    ImportReportRead,
    ProductCreate,
    ProductImportUpload,
    ProductPage,
    ProductQuery,
    ProductRead,
    ProductUpdate,
)
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint("goods", __name__, url_prefix="/api/v1/products", description="Goods barcodes (商品条码).")

# Declarants read too: a registered barcode fills in a declaration's goods elements.
READERS = (Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN, Role.DECLARANT)
# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def import_sized_body(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let this request's body reach the import limit; the app-wide limit is sized for JSON."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = current_settings().product_import_max_bytes + MULTIPART_OVERHEAD
        return view(*args, **kwargs)

    return wrapped


@blp.route("")
class Products(MethodView):
    @require_role(*READERS)
    @blp.arguments(ProductQuery, location="query")
    @blp.response(200, ProductPage)
    def get(self, query):
        """Find products by barcode (any GTIN length) or by part of a name or brand."""
        with db.transaction() as session:
            return service.list_products(session, **query)

    @require_role(Role.WAREHOUSE_OPERATOR)
    @idempotent
    @blp.arguments(ProductCreate)
    @blp.response(201, ProductRead)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload):
        """Register a goods barcode for your bonded warehouse."""
        with db.transaction() as session:
            return service.register_product(session, registrar=current_user(), **payload)


@blp.route("/<int:product_id>")
class ProductById(MethodView):
    @require_role(*READERS)
    @blp.response(200, ProductRead)
    def get(self, product_id):
        """Read one product."""
        with db.transaction() as session:
            return service.get_product(session, product_id)

    @require_role(Role.WAREHOUSE_OPERATOR, Role.ADMIN)
    @idempotent
    @blp.arguments(ProductUpdate(partial=True))
    @blp.response(200, ProductRead)
    def patch(self, payload, product_id):
        """Correct a product's data (its registering warehouse, or an admin)."""
        with db.transaction() as session:
            return service.update_product(session, product_id, editor=current_user(), actor=current_actor(), **payload)


@blp.route("/import")
class ProductImport(MethodView):
    @require_role(Role.WAREHOUSE_OPERATOR)
    @import_sized_body
    @idempotent
    @blp.arguments(ProductImportUpload, location="files")
    @blp.response(200, ImportReportRead)
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    def post(self, payload):
        """Import products from CSV: good rows are saved, bad rows reported; the same file again changes nothing."""
        user = current_user()
        return imports.import_file(
            payload["file"].read(),
            transaction=db.transaction,
            enterprise_id=user.enterprise_id,
            registrar_id=user.id,
            actor=current_actor(),
        )
