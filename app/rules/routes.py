from flask.views import MethodView

from app import db
from app.auth.guards import current_actor, require_role
from app.common.blueprint import Blueprint
from app.config import current_settings
from app.idempotency.guards import idempotent
from app.rules import cache, service
from app.rules.schemas import RuleList, RuleRead, RuleUpdate
from app.users.models import Role

blp = Blueprint(
    "rules",
    __name__,
    url_prefix="/api/v1/rules",
    description="Run-time rules (admins): thresholds that take effect on every server within seconds, no restart.",
)

KEY = {
    "in": "path",
    "name": "key",
    "description": "The rule's name, e.g. gate_weight_tolerance_percent.",
    "schema": {"type": "string", "maxLength": 64},
}


@blp.route("")
class Rules(MethodView):
    @require_role(Role.ADMIN)
    @blp.response(200, RuleList)
    def get(self):
        """Every run-time rule with its value in force, its default, bounds and who last changed it."""
        with db.transaction() as session:
            return {"items": service.list_rules(session, settings=current_settings())}


@blp.route("/<string:key>", parameters=[KEY])
class RuleByKey(MethodView):
    @require_role(Role.ADMIN)
    @blp.response(200, RuleRead)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, key):
        """Read one run-time rule."""
        with db.transaction() as session:
            return service.get_rule(session, key, settings=current_settings())

    @require_role(Role.ADMIN)
    @idempotent
    @blp.arguments(RuleUpdate)
    @blp.response(200, RuleRead)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, payload, key):
        """Set a rule's value; every server applies it within RULES_CACHE_SECONDS (5 s by default)."""
        with db.transaction() as session:
            rule = service.set_rule(session, key, actor=current_actor(), settings=current_settings(), **payload)
        # After the work: this process's next read sees the change (a thread reading in between keeps the old
        # value for one ttl at most, as every other worker may).
        cache.forget()
        return rule

    @require_role(Role.ADMIN)
    @idempotent
    @blp.response(200, RuleRead)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, key):
        """Drop a rule's override, so the default from the server's environment applies again."""
        with db.transaction() as session:
            rule = service.reset_rule(session, key, actor=current_actor(), settings=current_settings())
        cache.forget()
        return rule
