"""GS1-Conformant Resolver 1.2: the default link, link selection by type, language and media type, 300 for links a
request cannot tell apart, no redirect to the URI it came from, and the linkset's anchors and context
(docs/resolver.md lists the statements these hold)."""

from urllib.parse import urlsplit

import pytest

from tests.trace.helpers import GTIN, follow, issue, make_setup, release, set_status

GS1 = "https://ref.gs1.org/voc/"
JSON = {"Accept": "application/json"}


@pytest.fixture
def code(client, session, auth_headers):
    """An affixed code of lot L7 on a released declaration."""
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    batch = issue(client, headers, setup.declaration.id, 1, lot="L7").json
    issued = batch["codes"][0]
    set_status(client, headers, "affixed", serials=[issued["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return {
        **issued,
        "batch_id": batch["batch"]["id"],
        "setup": setup,
        "path": f"/01/{GTIN}/10/L7/21/{issued['serial']}",
    }


def _linkset(client, path):
    return client.get(path, headers={"Accept": "application/linkset+json"}).json["linkset"]


def _default_href(client, path):
    [entry] = [entry for entry in _linkset(client, path) if entry["anchor"].endswith(path)]
    [link] = entry[f"{GS1}defaultLink"]
    return link


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_a_bare_item_request_redirects_to_its_default_link(client, code, accept):
    response = client.get(code["path"], headers={"Accept": accept} if accept else {})

    assert response.status_code == 307
    assert response.headers["Location"] == _default_href(client, code["path"])["href"]
    assert 'rel="linkset"' in response.headers["Link"]


def test_a_bare_product_request_redirects_to_the_product_page(client, code, settings):
    response = client.get(f"/01/{GTIN}", headers={"Accept": "*/*"})

    assert response.status_code == 307
    assert response.headers["Location"] == f"https://{settings.trace_host}/trace/products/{GTIN}"


def test_the_default_link_has_a_title_and_no_other_attribute(client, code):
    for entry in _linkset(client, code["path"]):
        [link] = entry[f"{GS1}defaultLink"]
        assert set(link) == {"href", "title"}


def test_the_default_link_leads_to_the_verdict_with_the_lot_checked(client, code):
    redirect = client.get(code["path"])

    page = follow(client, redirect, headers={"Accept": "text/html"})
    verdict = follow(client, redirect, headers=JSON)

    assert 'data-verdict="genuine"' in page.get_data(as_text=True)
    assert verdict.json["verdict"] == "genuine"


def test_a_wrong_lot_keeps_its_claim_through_every_redirect(client, code):
    path = f"/01/{GTIN}/10/B99/21/{code['serial']}"

    for query in ("", "?linkType=gs1:traceability", "?linkType=gs1:verificationService"):
        response = follow(client, client.get(path + query), headers=JSON)
        assert response.json["verdict"] == "lot_mismatch", query


def test_no_link_type_ever_redirects_to_the_uri_it_came_from(client, code):
    for path in (code["path"], f"/01/{GTIN}", f"/01/{GTIN}/10/L7"):
        for link_type in ("", "gs1:defaultLink", "gs1:pip", "gs1:traceability", "gs1:verificationService"):
            response = client.get(f"{path}?linkType={link_type}" if link_type else path, headers={"Accept": "*/*"})
            if response.status_code == 307:
                assert urlsplit(response.headers["Location"]).path != path, (path, link_type)


def test_the_verification_service_the_linkset_lists_is_redirected_to(client, code):
    listed = {entry["anchor"]: entry for entry in _linkset(client, code["path"])}
    [service] = [link for entry in listed.values() for link in entry.get(f"{GS1}verificationService", [])]

    response = client.get(f"{code['path']}?linkType=gs1:verificationService")

    assert response.status_code == 307
    assert response.headers["Location"].startswith(service["href"])


@pytest.mark.parametrize(
    "language,page", [("zh-CN,zh;q=0.9", f"/trace/products/{GTIN}"), ("en-GB,en;q=0.8", f"/trace/products/{GTIN}")]
)
def test_the_product_information_follows_accept_language(client, code, language, page):
    response = client.get(f"/01/{GTIN}?linkType=gs1:pip", headers={"Accept": "text/html", "Accept-Language": language})

    assert response.status_code == 307
    location = urlsplit(response.headers["Location"])
    assert location.path == page
    assert ("lang=en" in location.query) == language.startswith("en")


def test_the_lang_parameter_chooses_too(client, code):
    response = client.get(f"/01/{GTIN}?linkType=gs1:pip&lang=en", headers={"Accept": "text/html"})

    assert "lang=en" in response.headers["Location"]


def test_the_media_type_chooses_among_links_of_a_type(client, code):
    response = client.get(f"/01/{GTIN}?linkType=gs1:pip", headers=JSON)
    product = follow(client, response, headers=JSON)

    assert response.status_code == 307
    assert product.json["gtin"] == GTIN


def test_links_the_request_cannot_tell_apart_are_offered_as_300(client, code, settings):
    # No language and no media type: the Chinese page, the English one and the JSON fit equally.
    response = client.get(f"/01/{GTIN}?linkType=gs1:pip", headers={"Accept": "*/*"})

    assert response.status_code == 300
    assert response.mimetype == "application/linkset+json"
    [entry] = response.json["linkset"]
    assert entry["anchor"] == f"https://{settings.trace_host.upper()}/01/{GTIN}"
    offered = entry[f"{GS1}pip"]
    assert {(link.get("type"), tuple(link.get("hreflang", ()))) for link in offered} == {
        ("text/html", ("zh",)),
        ("text/html", ("en",)),
        ("application/json", ()),
    }
    assert all(link["href"] and link["title"] for link in offered)


def test_a_link_type_of_the_product_is_found_from_the_item(client, code):
    response = client.get(f"{code['path']}?linkType=gs1:pip", headers={"Accept-Language": "en"})

    assert response.status_code == 307
    assert urlsplit(response.headers["Location"]).path == f"/trace/products/{GTIN}"


def test_an_unknown_link_type_is_404(client, code):
    response = client.get(f"{code['path']}?linkType=gs1:nosuchlt")

    assert response.status_code == 404
    assert response.json["code"] == "link_type_unavailable"


def test_the_linkset_carries_its_json_ld_context(client, code):
    response = client.get(f"{code['path']}?linkType=linkset")

    assert response.status_code == 200
    context = [link for link in response.headers["Link"].split(", ") if "json-ld#context" in link]
    assert context == [
        "<https://ref.gs1.org/standards/resolver/linkset-context>; "
        'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    ]


def test_the_uri_printed_on_the_label_is_its_anchor(client, code, auth_headers):
    headers = auth_headers(code["setup"].operator)
    csv = client.get(f"/api/v1/trace-code-batches/{code['batch_id']}/codes.csv", headers=headers).get_data(as_text=True)
    printed = csv.splitlines()[1].split(",")[-1]

    anchors = [entry["anchor"] for entry in _linkset(client, code["path"])]

    # Host and path as printed; the scheme as a URI parser reads it (GS1's linkset schema takes only https?://).
    assert printed == code["url"]
    assert urlsplit(printed).geturl() in anchors
    assert printed.removeprefix("HTTPS") in [anchor.removeprefix("https") for anchor in anchors]


def test_a_browser_gets_the_verdict_page_in_place(client, code):
    response = client.get(code["path"], headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    assert response.status_code == 200
    assert 'data-verdict="genuine"' in response.get_data(as_text=True)


def test_the_item_page_counts_the_lookup(client, code):
    first = client.get(f"/trace/items/{code['serial']}?lot=L7", headers=JSON).json
    second = client.get(f"/trace/items/{code['serial']}?lot=L7", headers=JSON).json

    assert (first["verdict"], second["scans"]["count"]) == ("genuine", 2)


def test_an_unknown_item_page_is_a_404(client):
    response = client.get("/trace/items/ABCDEFGHJKMNPQRS", headers=JSON)

    assert response.status_code == 404
    assert response.json["code"] == "unknown_trace_code"
