import json
from pathlib import Path

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_the_committed_openapi_document_matches_the_code(app):
    generated = app.test_cli_runner().invoke(args=["openapi", "print"])

    assert generated.exit_code == 0
    assert json.loads(generated.output) == json.loads(COMMITTED.read_text()), (
        "openapi/openapi.json is stale: run `flask openapi write openapi/openapi.json` and commit it."
    )


def test_the_served_document_is_the_committed_one(client):
    assert client.get("/api/v1/openapi.json").json == json.loads(COMMITTED.read_text())


def test_protected_operations_declare_bearer_auth_and_public_ones_do_not(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    assert "security" not in paths["/api/v1/auth/login"]["post"]
    assert paths["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/admin/users"]["get"]["x-roles"] == ["admin"]


def test_the_docs_ui_works_without_internet(client):
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert "http://" not in html and "https://" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"/api/v1/docs/assets/{asset}" in html
        assert client.get(f"/api/v1/docs/assets/{asset}").status_code == 200


def _properties(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value.items()
            yield from _properties(value)
    elif isinstance(node, list):
        for item in node:
            yield from _properties(item)


def test_decimals_are_documented_as_the_strings_they_travel_as():
    document = json.loads(COMMITTED.read_text())
    properties = list(_properties(document))
    decimals = [(name, prop) for name, prop in properties if prop.get("format") == "decimal"]

    assert len(decimals) > 20
    for name, prop in decimals:
        assert prop["type"] == "string", name
        assert prop["pattern"].startswith("^"), name
        assert not {"minimum", "maximum", "x-minimum", "x-maximum"} & prop.keys(), name
    for name, prop in properties:
        for bound in ("minimum", "maximum"):
            assert not isinstance(prop.get(bound), str), f"{name}: {bound} is a string"
