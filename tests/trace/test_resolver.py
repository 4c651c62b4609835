import base64
import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.trace.models import TraceScan
from tests.trace.helpers import GTIN, OTHER_GTIN, REFERENCE, follow, issue, make_setup, release, set_status

JSON = {"Accept": "application/json"}


@pytest.fixture
def live_code(client, session, auth_headers):
    """An affixed code on a released declaration: what a consumer holds."""
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    code = issue(client, headers, setup.declaration.id, 1).json["codes"][0]
    set_status(client, headers, "affixed", serials=[code["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return {**code, "setup": setup, "path": f"/01/{GTIN}/21/{code['serial']}"}


def test_a_released_code_is_genuine_with_its_chain(client, live_code):
    response = client.get(live_code["path"], headers=JSON)

    assert response.status_code == 200
    body = response.json
    declaration = live_code["setup"].declaration
    assert body["verdict"] == "genuine"
    assert (body["gtin"], body["serial"]) == (GTIN, live_code["serial"])
    assert body["product"]["brand"] == "Milupa"
    assert body["trader"] == declaration.ebc_name
    assert body["warehouse"] == declaration.area_name
    assert body["declaration"] == {"number": declaration.invt_no, "status": "released"}
    assert [step["step"] for step in body["chain"]] == ["audited", "released"]
    assert body["chain"][-1]["biz_step"] == "departing"
    assert body["scans"]["count"] == 1


def test_the_answer_is_json_in_utf8_with_its_keys_sorted(client, live_code):
    raw = client.get(live_code["path"], headers=JSON).get_data()

    # Chinese names travel as UTF-8 (half the bytes of \u escapes); keys in a stable order.
    assert "婴儿配方奶粉".encode() in raw
    assert b"\\u" not in raw
    keys = list(json.loads(raw))
    assert keys == sorted(keys)


def test_the_answer_carries_no_personal_data(client, live_code):
    text = client.get(live_code["path"], headers=JSON).get_data(as_text=True)

    declaration = live_code["setup"].declaration
    for personal in (declaration.buyer_name, declaration.buyer_id_number, declaration.buyer_telephone):
        assert personal not in text


def test_scans_are_counted_with_the_first_time(client, live_code):
    first = client.get(live_code["path"], headers=JSON).json["scans"]

    second = client.get(live_code["path"], headers=JSON).json["scans"]

    assert second == {"count": 2, "first_at": first["first_at"]}


def test_crawlers_and_link_previews_are_not_counted(client, session, live_code):
    client.get(live_code["path"], headers={**JSON, "User-Agent": "facebookexternalhit/1.1"})
    client.get(live_code["path"], headers={**JSON, "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})

    assert session.scalar(select(func.count()).select_from(TraceScan)) == 0


WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "MicroMessenger/8.0.40(0x18002831) NetType/WIFI Language/zh_CN"
)


def test_scans_are_classed_by_the_scanning_app(client, session, live_code):
    for agent in (WECHAT, "Mozilla/5.0 (Linux; Android 14) AlipayClient/10.5.90", "Mozilla/5.0 (X11) Firefox/128.0"):
        client.get(live_code["path"], headers={**JSON, "User-Agent": agent})
    client.get(live_code["path"], headers={**JSON, "User-Agent": "Mozilla/5.0 (compatible; BingBOT/2.0)"})

    assert session.scalars(select(TraceScan.client_class).order_by(TraceScan.id)).all() == [
        "wechat",
        "alipay",
        "browser",
    ]


def test_the_client_address_is_kept_as_its_network_only(client, session, live_code):
    client.get(live_code["path"], headers=JSON, environ_base={"REMOTE_ADDR": "203.0.113.77"})

    assert session.scalar(select(TraceScan.network)) == "203.0.113.0/24"


def test_a_code_seen_from_too_many_networks_is_suspicious(client, app, settings, monkeypatch, live_code):
    monkeypatch.setitem(app.extensions, "settings", replace(settings, trace_network_limit=2))
    verdicts = [
        client.get(live_code["path"], headers=JSON, environ_base={"REMOTE_ADDR": f"198.51.{n}.1"}).json["verdict"]
        for n in range(3)
    ]

    assert verdicts == ["genuine", "genuine", "suspicious"]


def test_a_code_looked_up_too_often_is_suspicious(client, app, settings, monkeypatch, live_code):
    monkeypatch.setitem(app.extensions, "settings", replace(settings, trace_scan_limit=2))

    verdicts = [client.get(live_code["path"], headers=JSON).json["verdict"] for _ in range(3)]

    assert verdicts == ["genuine", "genuine", "suspicious"]


def test_a_code_before_release_is_not_released(client, session, auth_headers):
    setup = make_setup(session)
    serial = issue(client, auth_headers(setup.operator), setup.declaration.id, 1).json["codes"][0]["serial"]

    response = client.get(f"/01/{GTIN}/21/{serial}", headers=JSON)

    assert response.json["verdict"] == "not_released"


def test_recalled_and_void_codes_say_so(client, auth_headers, live_code):
    set_status(client, auth_headers(live_code["setup"].officer), "recalled", serials=[live_code["serial"]])

    assert client.get(live_code["path"], headers=JSON).json["verdict"] == "recalled"


def test_a_different_product_barcode_is_a_mismatch(client, live_code):
    response = client.get(f"{live_code['path']}?barcode={OTHER_GTIN[1:]}", headers=JSON)

    assert response.json["verdict"] == "gtin_mismatch"


def test_the_same_product_barcode_in_any_length_matches(client, live_code):
    response = client.get(f"{live_code['path']}?barcode={GTIN[1:]}", headers=JSON)

    assert response.json["verdict"] == "genuine"


def test_an_invalid_barcode_is_422(client, live_code):
    response = client.get(f"{live_code['path']}?barcode=4006381333932", headers=JSON)

    assert response.status_code == 422
    assert "barcode" in response.json["errors"]["query"]


def test_an_unknown_serial_is_404(client):
    response = client.get(f"/01/{GTIN}/21/ABCDEFGHJKMNPQRS", headers=JSON)

    assert response.status_code == 404
    assert response.json["code"] == "unknown_trace_code"


def test_a_real_serial_under_another_gtin_is_unknown(client, live_code):
    response = client.get(f"/01/{OTHER_GTIN}/21/{live_code['serial']}", headers=JSON)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/01/{GTIN[:-1]}2/21/ABCDEFGHJKMNPQRS",  # wrong GTIN check digit
        f"/01/{GTIN}/21/ABCDEFGHJKMNPQRS/10/LOT1",  # lot after serial: wrong qualifier order
        f"/01/{GTIN}/99/X",  # not a qualifier of AI 01
        f"/01/{GTIN}/21/" + "A" * 21,  # AI 21 holds at most 20 characters
        "/01/12345/21/ABCDEFGHJKMNPQRS",  # not a GTIN length
    ],
)
def test_a_syntactically_bad_uri_is_400(client, path):
    response = client.get(path, headers=JSON)

    assert response.status_code == 400
    assert response.json["code"] == "bad_digital_link"


def test_a_trailing_slash_is_tolerated(client, live_code):
    response = client.get(live_code["path"] + "/", headers=JSON)

    assert response.json["verdict"] == "genuine"


def test_a_lot_before_the_serial_resolves(client, session, auth_headers):
    setup = make_setup(session)
    code = issue(client, auth_headers(setup.operator), setup.declaration.id, 1, lot="L7").json["codes"][0]

    response = client.get(f"/01/{GTIN}/10/L7/21/{code['serial']}", headers=JSON)

    assert response.json["lot"] == "L7"


def test_the_phone_page_is_chinese_by_default(client, live_code):
    response = client.get(live_code["path"], headers={"Accept": "text/html"})

    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert 'data-verdict="genuine"' in page
    assert "正品" in page
    assert live_code["setup"].declaration.invt_no in page
    assert 'name="barcode"' in page


@pytest.mark.parametrize("headers,query", [({}, "?lang=en"), ({"Accept-Language": "en-US,en;q=0.9"}, "")])
def test_the_phone_page_speaks_english_when_asked(client, live_code, headers, query):
    page = client.get(live_code["path"] + query, headers={"Accept": "text/html", **headers}).get_data(as_text=True)

    assert "Genuine" in page
    assert "正品" not in page


def test_the_page_shows_a_mismatch_for_a_typed_barcode(client, live_code):
    page = client.get(f"{live_code['path']}?barcode={OTHER_GTIN}", headers={"Accept": "text/html"})

    assert 'data-verdict="gtin_mismatch"' in page.get_data(as_text=True)


def test_the_page_for_an_unknown_code_is_a_404_warning(client):
    response = client.get(f"/01/{GTIN}/21/ABCDEFGHJKMNPQRS", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert 'data-verdict="unknown"' in response.get_data(as_text=True)


def test_the_page_runs_only_its_own_inline_script_and_style_by_hash(client, live_code):
    page = client.get(live_code["path"], headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    policy = dict(part.split(maxsplit=1) for part in page.headers["Content-Security-Policy"].split("; "))

    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        [block] = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert policy[directive] == f"'self' 'sha256-{digest}'"
    assert ' style="' not in html  # an inline style attribute would need 'unsafe-inline'


def test_linkset_by_accept_header(client, live_code, settings):
    response = client.get(live_code["path"], headers={"Accept": "application/linkset+json"})

    assert response.status_code == 200
    assert response.mimetype == "application/linkset+json"
    anchors = [entry["anchor"] for entry in response.json["linkset"]]
    # Written as the label prints them: a URI read off the label is its own anchor.
    assert anchors == [f"https://{settings.trace_host.upper()}/01/{GTIN}", urlsplit(live_code["url"]).geturl()]


def test_an_unacceptable_media_type_is_a_406_problem(client, live_code):
    response = client.get(live_code["path"], headers={"Accept": "image/png"})

    assert response.status_code == 406
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("link_type", ["linkset", "all"])
def test_linkset_by_link_type_and_every_link_has_href_and_title(client, live_code, link_type):
    response = client.get(f"{live_code['path']}?linkType={link_type}")

    assert response.mimetype == "application/linkset+json"
    for entry in response.json["linkset"]:
        links = [link for key, value in entry.items() if key.startswith("https://ref.gs1.org/voc/") for link in value]
        assert links
        assert all(link["href"] and link["title"] for link in links)


def test_the_linkset_has_the_shape_of_the_gs1_model(client, live_code):
    model = json.loads((REFERENCE / "resolver-model-linkset.json").read_text())
    ours = client.get(live_code["path"] + "?linkType=linkset").json

    def shape(linkset):
        entry_keys, link_keys, namespaces = set(), set(), set()
        for entry in linkset["linkset"]:
            for key, value in entry.items():
                if isinstance(value, list):
                    namespaces.add(key.rsplit("/", 1)[0])
                    link_keys.update(key for link in value for key in link)
                else:
                    entry_keys.add(key)
        return entry_keys, link_keys, namespaces

    (model_entry, model_link, model_ns), (our_entry, our_link, our_ns) = shape(model), shape(ours)
    assert our_entry == model_entry == {"anchor", "itemDescription"}
    assert our_link <= model_link
    assert our_ns == model_ns


def test_every_answer_links_to_the_linkset(client, live_code, settings):
    for headers in (JSON, {"Accept": "text/html"}, {"Accept": "application/linkset+json"}):
        link = client.get(live_code["path"], headers=headers).headers["Link"]
        assert link.startswith(f"<https://{settings.trace_host}{live_code['path']}?linkType=linkset>")
        assert 'rel="linkset"' in link


@pytest.mark.parametrize(
    "link_type,target",
    [
        ("gs1:pip", f"/trace/products/{GTIN}"),
        ("gs1:traceability", "/api/v1/trace/codes/"),
        ("gs1:epcis", "/api/v1/trace-codes/"),
        ("https://gs1.org/voc/pip", "/trace/products/"),
    ],
)
def test_a_link_type_redirects_with_the_query_passed_on(client, live_code, settings, link_type, target):
    response = client.get(f"{live_code['path']}?linkType={link_type}&utm=x", headers={"Accept-Language": "zh-CN"})

    assert response.status_code == 307
    assert response.headers["Location"].startswith(f"https://{settings.trace_host}{target}")
    assert response.headers["Location"].endswith(f"?linkType={link_type}&utm=x")
    assert "Link" in response.headers


def test_an_unavailable_link_type_is_404(client, live_code):
    response = client.get(f"{live_code['path']}?linkType=gs1:recipeInfo")

    assert response.status_code == 404
    assert response.json["code"] == "link_type_unavailable"


def test_cors_and_preflight(client, live_code):
    preflight = client.options(
        live_code["path"], headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    )
    simple = client.get(live_code["path"], headers={**JSON, "Origin": "https://shop.example"})

    assert preflight.status_code == 200
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert simple.headers["Access-Control-Allow-Origin"] == "*"
    assert "Link" in simple.headers["Access-Control-Expose-Headers"]


def test_head_answers_like_get_without_counting(client, session, live_code):
    response = client.head(live_code["path"], headers=JSON)

    assert response.status_code == 200
    assert response.data == b""
    assert session.scalar(select(func.count()).select_from(TraceScan)) == 0


def test_the_product_level_uri_answers_the_product(client, live_code):
    response = client.get(f"/01/{GTIN}", headers=JSON)

    assert response.json["brand"] == "Milupa"


def test_the_resolver_description_file(client, settings):
    response = client.get("/.well-known/gs1resolver")

    assert response.status_code == 200
    assert response.json["resolverRoot"] == f"https://{settings.trace_host}"
    assert "01" in response.json["supportedPrimaryKeys"]


def test_verify_checks_both_codes(client, live_code):
    same = client.post("/api/v1/trace/verify", json={"code": live_code["url"], "barcode": GTIN[1:]})
    other = client.post("/api/v1/trace/verify", json={"code": live_code["serial"], "barcode": OTHER_GTIN})

    assert same.json["verdict"] == "genuine"
    assert other.json["verdict"] == "gtin_mismatch"


def test_verify_refuses_an_invalid_barcode(client, live_code):
    response = client.post("/api/v1/trace/verify", json={"code": live_code["url"], "barcode": "4006381333932"})

    assert response.status_code == 422
    assert "barcode" in response.json["errors"]["json"]


def test_public_lookups_are_rate_limited(client, app, monkeypatch, live_code):
    monkeypatch.setitem(app.config, "TRACE_RATE_LIMIT", "3 per minute")
    address = {"REMOTE_ADDR": "203.0.113.50"}

    statuses = [client.get(live_code["path"], headers=JSON, environ_base=address).status_code for _ in range(4)]
    limited = client.get(live_code["path"], headers=JSON, environ_base=address)

    assert statuses == [200, 200, 200, 429]
    assert limited.json["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0


def test_unknown_serials_spend_a_tighter_budget(client, app, monkeypatch, live_code):
    monkeypatch.setitem(app.config, "TRACE_UNKNOWN_RATE_LIMIT", "2 per minute")
    address = {"REMOTE_ADDR": "203.0.113.60"}

    unknown = [
        client.get(f"/01/{GTIN}/21/ABCDEFGHJKMNPQR{c}", headers=JSON, environ_base=address).status_code for c in "ABC"
    ]
    known = client.get(live_code["path"], headers=JSON, environ_base={"REMOTE_ADDR": "203.0.113.61"})

    assert unknown == [404, 404, 429]
    assert known.status_code == 200


def test_unknown_codes_from_a_shared_address_never_refuse_a_genuine_one(client, app, monkeypatch, live_code):
    monkeypatch.setitem(app.config, "TRACE_UNKNOWN_RATE_LIMIT", "2 per minute")
    shared = {"REMOTE_ADDR": "203.0.113.62"}  # one carrier NAT: a prober and a shopper behind it
    for c in "ABCD":
        client.get(f"/01/{GTIN}/21/ABCDEFGHJKMNPQR{c}", headers=JSON, environ_base=shared)

    resolved = client.get(live_code["path"], headers=JSON, environ_base=shared)
    api = client.get(f"/api/v1/trace/codes/{live_code['serial']}", environ_base=shared)
    still_unknown = client.get(f"/01/{GTIN}/21/ABCDEFGHJKMNPQRE", headers=JSON, environ_base=shared)

    assert (resolved.status_code, api.status_code) == (200, 200)
    assert still_unknown.status_code == 429


def test_the_resolver_json_and_the_api_agree_with_iso_times(client, live_code):
    resolved = client.get(live_code["path"], headers=JSON).json
    api = client.get(f"/api/v1/trace/codes/{live_code['serial']}").json

    assert resolved["chain"] == api["chain"]
    assert datetime.fromisoformat(resolved["chain"][-1]["at"]).tzinfo is not None
    assert datetime.fromisoformat(api["scans"]["first_at"]) == datetime.fromisoformat(resolved["scans"]["first_at"])


def test_the_product_information_page_of_a_product_uri_is_answered_not_redirected_to_itself(client, live_code):
    redirect = client.get(f"/01/{GTIN}?linkType=gs1:pip", headers=JSON)
    response = follow(client, redirect, headers=JSON)

    assert redirect.status_code == 307
    assert not redirect.headers["Location"].split("?")[0].endswith(f"/01/{GTIN}")
    assert response.status_code == 200
    assert response.json["gtin"] == GTIN
