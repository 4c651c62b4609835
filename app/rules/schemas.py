from marshmallow import Schema, fields, validate

from app.common.fields import DecimalString, String

UNITS = ("percent", "hours", "count")


class RuleRead(Schema):
    key = String(metadata={"description": "The rule's name, as in PUT /api/v1/rules/{key}."})
    label = String(metadata={"description": "The rule's name for people, in the request's language."})
    help = String(metadata={"description": "What the rule decides, in the request's language."})
    unit = String(validate=validate.OneOf(UNITS))
    kind = String(
        validate=validate.OneOf(("integer", "decimal")), metadata={"description": "Whether fractions are allowed."}
    )
    value = String(metadata={"description": "The value in force: the override if any, else the default."})
    default = String(metadata={"description": "The value the server's environment sets (app/config.py)."})
    minimum = String()
    maximum = String()
    overridden = fields.Boolean(metadata={"description": "Whether an admin set the value (else the default applies)."})
    updated_by = String(allow_none=True, metadata={"description": "Username of the admin who set the override."})
    updated_at = fields.DateTime(allow_none=True)


class RuleList(Schema):
    items = fields.List(fields.Nested(RuleRead))


class RuleUpdate(Schema):
    value = DecimalString(
        required=True,
        precision=12,
        metadata={"description": "The new value, within the rule's minimum and maximum (a string or a number)."},
    )
