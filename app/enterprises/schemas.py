from marshmallow import Schema, ValidationError, fields, post_load, validate
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

from app.common.fields import Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.enterprises.models import CreditLevel, EnterpriseKind
from app.i18n import _

CUSTOMS_REG_CODE = r"^[0-9A-Z]{10}$"


def _validate_uscc(value: str) -> None:
    try:
        uscc.validate(value)
    except InvalidChecksum:
        raise ValidationError(
            _("The check character does not match; re-read the code from the business licence.")
        ) from None
    except StdnumError:
        raise ValidationError(
            _("Not a unified social credit code: 18 characters, digits and capitals except I, O, Z, S and V.")
        ) from None


class UsccField(String):
    """GB 32100-2015 code, validated with its check character."""

    def _deserialize(self, value, attr, data, **kwargs):
        compact = uscc.compact(super()._deserialize(value, attr, data, **kwargs))
        _validate_uscc(compact)
        return compact


class CustomsRegCodeField(TrimmedString):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


class EnterpriseSummary(Schema):
    id = Integer(dump_only=True)
    name = String(dump_only=True)


class EnterpriseRead(Schema):
    id = Integer()
    name = String()
    uscc = String(metadata={"description": "Unified social credit code (18 characters)."})
    customs_reg_code = String(metadata={"description": "10-character customs registration code."})
    kinds = fields.List(fields.Enum(EnterpriseKind, by_value=True))
    credit_level = fields.Enum(CreditLevel, by_value=True)
    general_taxpayer_pilot = fields.Boolean()
    active = fields.Boolean(attribute="is_active")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _kinds_field(**kwargs) -> fields.List:
    return fields.List(
        fields.Enum(EnterpriseKind, by_value=True),
        validate=validate.Length(min=1),
        metadata={"description": "Roles the enterprise plays; at least one, duplicates ignored."},
        **kwargs,
    )


class EnterpriseCreate(Schema):
    name = TrimmedString(required=True, validate=validate.Length(min=2, max=200))
    uscc = UsccField(required=True)
    customs_reg_code = CustomsRegCodeField(required=True, validate=validate.Regexp(CUSTOMS_REG_CODE))
    kinds = _kinds_field(required=True)
    credit_level = fields.Enum(CreditLevel, by_value=True, load_default=CreditLevel.GENERAL)
    general_taxpayer_pilot = fields.Boolean(load_default=False)


class EnterpriseUpdate(Schema):
    name = TrimmedString(validate=validate.Length(min=2, max=200))
    customs_reg_code = CustomsRegCodeField(validate=validate.Regexp(CUSTOMS_REG_CODE))
    kinds = _kinds_field()
    credit_level = fields.Enum(CreditLevel, by_value=True)
    general_taxpayer_pilot = fields.Boolean()
    active = fields.Boolean(metadata={"description": "false deactivates: its users can no longer sign in."})

    @post_load
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ValidationError(_("Send at least one field to change."), field_name="_schema")
        return data


class EnterpriseQuery(PageQuery):
    kind = fields.Enum(EnterpriseKind, by_value=True)
    q = TrimmedString(validate=validate.Length(min=1, max=100), metadata={"description": "Name or code contains."})
    active = fields.Boolean()


EnterprisePage = page_schema(EnterpriseRead, "EnterprisePage")
