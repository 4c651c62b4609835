"""Every schema uses the bounded fields of app/common/fields.py, so none lets the database see what it refuses."""

from marshmallow import Schema, class_registry, fields

from app.common import fields as bounded

# marshmallow's own classes, exactly: their bounded subclasses are what schemas must use instead.
UNBOUNDED = {fields.Integer: bounded.Integer, fields.String: bounded.String, fields.Decimal: bounded.DecimalString}


def _inner(field: fields.Field) -> list[fields.Field]:
    if isinstance(field, fields.List):
        return [field.inner]
    if isinstance(field, fields.Tuple):
        return list(field.tuple_fields)
    if isinstance(field, fields.Dict):
        return [f for f in (field.key_field, field.value_field) if f is not None]
    return []


def test_no_schema_declares_an_unbounded_integer_string_or_decimal(app):
    offenders = []
    for name, classes in class_registry._registry.items():
        if "." not in name or not name.startswith("app."):
            continue
        for schema_class in classes:
            assert issubclass(schema_class, Schema)
            stack = [(f"{name}.{key}", field) for key, field in schema_class._declared_fields.items()]
            while stack:
                where, field = stack.pop()
                if type(field) in UNBOUNDED:
                    offenders.append(f"{where}: use app.common.fields.{UNBOUNDED[type(field)].__name__}")
                stack.extend((f"{where}[]", inner) for inner in _inner(field))

    assert not offenders, "\n".join(sorted(offenders))
