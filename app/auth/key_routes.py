"""Admins manage the API keys of machine accounts (the customs gateway, camera systems)."""

from flask.views import MethodView

from app import db
from app.auth import api_keys
from app.auth.guards import current_actor, require_role
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyQuery
from app.common.blueprint import Blueprint
from app.idempotency.guards import idempotent
from app.users.models import Role

blp = Blueprint(
    "admin_api_keys",
    __name__,
    url_prefix="/api/v1/admin/users",
    description="API keys of machine accounts (admins): create (shown once), list, revoke; two may be live to rotate.",
)


@blp.route("/<int32:user_id>/api-keys")
class ApiKeys(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(ApiKeyQuery, location="query")
    @blp.response(200, ApiKeyPage)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def get(self, query, user_id):
        """A machine account's API keys, newest first, with when each was last used."""
        with db.transaction() as session:
            return api_keys.list_api_keys(session, user_id, **query)

    # No Idempotency-Key: the answer holds the key itself, which must not be stored to be replayed.
    @require_role(Role.ADMIN)
    @blp.arguments(ApiKeyCreate)
    @blp.response(201, ApiKeyCreated)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, payload, user_id):
        """Issue an API key for a machine account; the answer is the only time the key is shown."""
        with db.transaction() as session:
            return api_keys.create_api_key(session, user_id, actor=current_actor(), **payload)


@blp.route("/<int32:user_id>/api-keys/<int32:key_id>")
class ApiKeyById(MethodView):
    @require_role(Role.ADMIN)
    @idempotent
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, user_id, key_id):
        """Revoke an API key: it stops working at once (repeating the call changes nothing)."""
        with db.transaction() as session:
            api_keys.revoke_api_key(session, user_id, key_id, actor=current_actor())
