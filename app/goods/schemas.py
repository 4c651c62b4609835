from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app.common.fields import BigInteger, Gtin, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.i18n import _l

# ISO 3166-1 alpha-2 (JP) or the 3-digit customs country code (116) that declarations carry.
COUNTRY = validate.Regexp(
    r"^([A-Z]{2}|\d{3})$", error=_l("An ISO 3166 alpha-2 code (JP) or a 3-digit customs country code (116).")
)
# 10 digits (tariff code and 2 supervision digits), or 13 with the CIQ suffix of formal declarations.
HS_CODE = validate.Regexp(r"^(\d{10}|\d{13})$", error=_l("A 10-digit HS code, or 13 digits with the CIQ suffix."))
UNIT = validate.Regexp(r"^\d{3}$", error=_l("A 3-digit customs unit code (e.g. 011 piece, 122 can)."))


class _ProductFields(Schema):
    name_zh = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    name_en = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(max=200))
    brand = TrimmedString(required=True, validate=validate.Length(min=1, max=100))
    specification = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(max=200))
    origin_country = TrimmedString(required=True, validate=COUNTRY)
    hs_code = TrimmedString(required=True, validate=HS_CODE)
    unit = TrimmedString(required=True, validate=UNIT)


class ProductCreate(_ProductFields):
    gtin = Gtin(required=True, metadata={"description": "Barcode (GTIN-8/12/13/14); stored as GTIN-14."})


class ProductUpdate(_ProductFields):
    """Any of the product's fields; routes load it with partial=True."""


class ProductRead(Schema):
    id = BigInteger()
    gtin = String()
    name_zh = String()
    name_en = String(allow_none=True)
    brand = String()
    specification = String(allow_none=True)
    origin_country = String()
    hs_code = String()
    unit = String()
    enterprise_id = Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProductQuery(PageQuery):
    gtin = Gtin(load_default=None, metadata={"description": "Exact barcode, any of the GTIN lengths."})
    q = TrimmedString(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Part of the Chinese or English name, or the brand."},
    )


ProductPage = page_schema(ProductRead, "ProductPage")


class ProductImportUpload(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "CSV, UTF-8 (or GB18030 as Excel saves it), with the header "
            "gtin,name_zh,name_en,brand,specification,origin_country,hs_code,unit."
        },
    )


class RowProblem(Schema):
    row = Integer(metadata={"description": "Line number in the file; the header is line 1."})
    field = String(allow_none=True)
    message = String()


class ImportReportRead(Schema):
    created = Integer()
    updated = Integer()
    unchanged = Integer()
    rejected = Integer(metadata={"description": "Rows not imported; each is listed under errors."})
    errors = fields.List(fields.Nested(RowProblem))
