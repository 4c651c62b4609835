"""The shopper's trace page over HTTP: its words in Chinese and English, the barcode check, country names, the park's
contact, and "report a suspected fake" (tests/trace/test_browser.py looks at it in Chromium)."""

import re

import pytest
from sqlalchemy import func, select

from app.notices.models import Notice
from tests.trace.helpers import GTIN, OTHER_GTIN, issue, make_setup, release, set_status
from tests.trace.test_resolver import live_code  # noqa: F401 (a fixture)

EN = {"Accept-Language": "en-US,en;q=0.9"}
UNKNOWN = f"/01/{GTIN}/21/ABCDEFGHJKMNPQRS"


def page(client, path, **headers):
    response = client.get(path, headers={"Accept": "text/html", **headers})
    return response.status_code, response.get_data(as_text=True)


def form_of(body: str) -> dict[str, str]:
    """The report form's hidden fields, as a browser would send them."""
    return dict(re.findall(r'<input type="hidden" name="(code|token|barcode)" value="([^"]*)"', body))


def report(client, body, *, problem="packaging", phone="", lang="zh", **environ):
    fields = {**form_of(body), "problem": problem, "text": "包装字体模糊", "phone": phone}
    return client.post(f"/trace-reports?lang={lang}", data=fields, environ_base=environ)


def warnings_about(client, auth_headers, officer, serial):
    listed = client.get("/api/v1/risk/warnings", headers=auth_headers(officer)).json["items"]
    return [warning for warning in listed if warning["subject_key"] == f"trace-report:{serial}"]


def test_the_page_speaks_chinese_by_default_with_plurals_and_country_names(client, live_code):  # noqa: F811
    status, body = page(client, live_code["path"])

    assert status == 200
    assert "正品" in body and "已被查询 1 次" in body
    assert '<dd id="origin">德国</dd>' in body
    assert "Looked up" not in body and "Genuine" not in body


def test_the_page_in_english_counts_one_time_then_times(client, live_code):  # noqa: F811
    _, first = page(client, live_code["path"], **EN)
    _, second = page(client, f"{live_code['path']}?lang=en")

    assert "Looked up 1 time," in first and "Looked up 2 times," in second
    assert '<dd id="origin">Germany</dd>' in first
    assert "正品" not in first


def test_the_steps_of_the_chain_read_in_the_pages_language(client, live_code):  # noqa: F811
    _, chinese = page(client, live_code["path"])
    _, english = page(client, live_code["path"], **EN)
    as_json = client.get(live_code["path"], headers={"Accept": "application/json", **EN}).json

    assert "海关放行" in chinese and "Released by customs" in english
    assert [step["title"] for step in as_json["chain"]] == ["Customs audit concluded", "Released by customs"]


def test_every_page_names_the_park_and_the_customs_hotline(client, app, live_code):  # noqa: F811
    settings = app.extensions["settings"]
    pages = [page(client, path)[1] for path in (live_code["path"], UNKNOWN, f"/01/{GTIN}")]

    for body in pages:
        assert settings.park_name in body and settings.park_phone in body and settings.customs_hotline in body
    assert '<dd id="origin">德国</dd>' in pages[2]  # the product page too


def test_a_matching_barcode_is_confirmed(client, live_code):  # noqa: F811
    _, body = page(client, f"{live_code['path']}?barcode={GTIN}&lang=en")

    assert 'data-verdict="genuine"' in body
    assert f"The barcode {GTIN} matches this trace code." in body
    assert 'id="next"' not in body


def test_a_mismatch_names_what_the_barcode_belongs_to_and_what_to_do_without_the_chain(client, session, live_code):  # noqa: F811
    from app.goods.models import Product

    setup = live_code["setup"]
    session.add(
        Product(gtin=OTHER_GTIN, name_zh="维生素软糖 60粒", name_en="Vitamin gummies, 60", brand="Swisse",
                origin_country="AU", hs_code="2106909090", unit="142", enterprise_id=setup.operator.enterprise_id)
    )  # fmt: skip
    session.flush()

    _, body = page(client, f"{live_code['path']}?barcode={OTHER_GTIN}&lang=en")

    assert 'data-verdict="gtin_mismatch"' in body
    assert f"{OTHER_GTIN} belongs to Vitamin gummies, 60 (Swisse)" in body
    assert "This trace code was issued for Infant formula 800 g (Milupa" in body
    assert "Do not buy or use the item" in body and "Ask the seller" in body and 'href="#report"' in body
    assert 'id="chain"' not in body and "Released by customs" not in body
    assert "matches this trace code" not in body


def test_a_mismatch_with_a_barcode_the_park_does_not_know_says_so(client, live_code):  # noqa: F811
    _, body = page(client, f"{live_code['path']}?barcode=6901234567892")

    assert 'data-verdict="gtin_mismatch"' in body
    assert "本园区没有登记条码为 6901234567892 的商品。" in body


def test_an_unknown_code_offers_next_steps_and_a_report_but_no_barcode_form(client):
    status, body = page(client, UNKNOWN)

    assert status == 404
    assert 'data-verdict="unknown"' in body
    assert 'name="barcode" id="barcode"' not in body
    assert "请勿购买" in body and 'id="report"' in body


def test_a_report_raises_a_warning_for_officers_and_answers_a_reference(client, auth_headers, live_code):  # noqa: F811
    _, body = page(client, live_code["path"])

    answer = report(client, body, phone="13800138000")

    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "已举报，谢谢您" in text
    reference = re.search(r"举报编号：(R[0-9A-F]{10})", text).group(1)
    assert "13800138000" not in text and "138******00" in text
    [warning] = warnings_about(client, auth_headers, live_code["setup"].officer, live_code["serial"])
    assert warning["source"] == "trace" and warning["severity"] == "medium"
    assert warning["declaration_id"] == live_code["setup"].declaration.id
    [reported] = warning["details"]["reports"]
    assert (reported["reference"], reported["problem"], reported["phone"]) == (reference, "packaging", "13800138000")


def test_the_same_form_sent_twice_is_one_report(client, auth_headers, live_code):  # noqa: F811
    _, body = page(client, live_code["path"])

    first = report(client, body, lang="en").get_data(as_text=True)
    again = report(client, body, lang="en").get_data(as_text=True)

    reference = re.search(r"Reference: (R[0-9A-F]{10})", first).group(1)
    assert f"Reference: {reference}" in again
    [warning] = warnings_about(client, auth_headers, live_code["setup"].officer, live_code["serial"])
    assert warning["occurrences"] == 1


def test_reports_of_an_unknown_code_tell_the_officers_on_duty(client, session, auth_headers, live_code):  # noqa: F811
    notices_before = session.scalar(select(func.count()).select_from(Notice))
    _, body = page(client, UNKNOWN)

    answer = report(client, body, problem="verdict")

    assert answer.status_code == 200
    [warning] = warnings_about(client, auth_headers, live_code["setup"].officer, "ABCDEFGHJKMNPQRS")
    assert warning["severity"] == "high"
    assert warning["details"]["verdict"] == "unknown"
    assert session.scalar(select(func.count()).select_from(Notice)) > notices_before


def test_the_third_report_of_a_code_makes_its_warning_high(client, auth_headers, live_code):  # noqa: F811
    for _ in range(3):
        _, body = page(client, live_code["path"])
        report(client, body)

    [warning] = warnings_about(client, auth_headers, live_code["setup"].officer, live_code["serial"])
    assert (warning["occurrences"], warning["severity"]) == (3, "high")


@pytest.mark.parametrize("token", ["", "forged", "{serial}.1.abc.AAAA"])
def test_a_report_without_the_pages_token_is_refused(client, live_code, token):  # noqa: F811
    _, body = page(client, live_code["path"])
    fields = {**form_of(body), "token": token.format(serial=live_code["serial"]), "problem": "other"}

    answer = client.post("/trace-reports", data=fields, headers=EN)

    assert answer.status_code == 422
    assert answer.json["code"] in ("bad_report_token", "validation_failed")


def test_a_token_for_another_code_is_refused(client, live_code):  # noqa: F811
    _, unknown = page(client, UNKNOWN)
    fields = {**form_of(unknown), "code": live_code["path"], "problem": "other"}

    answer = client.post("/trace-reports", data=fields, headers=EN)

    assert (answer.status_code, answer.json["code"]) == (422, "bad_report_token")


def test_a_bad_phone_is_a_422_not_a_500(client, live_code):  # noqa: F811
    _, body = page(client, live_code["path"])

    answer = report(client, body, phone="call me maybe")

    assert (answer.status_code, answer.json["code"]) == (422, "validation_failed")


def test_reports_are_rate_limited_per_address(client, app, monkeypatch, live_code):  # noqa: F811
    monkeypatch.setitem(app.config, "TRACE_REPORT_RATE_LIMIT", "2 per minute")
    _, body = page(client, live_code["path"])

    statuses = [report(client, body, REMOTE_ADDR="203.0.113.70").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_the_report_answers_json_to_the_app_without_personal_data(client, live_code):  # noqa: F811
    _, body = page(client, live_code["path"])
    fields = {**form_of(body), "problem": "seller", "phone": "13800138000"}

    answer = client.post("/trace-reports", data=fields, headers={"Accept": "application/json"})

    assert answer.status_code == 200
    assert set(answer.json) == {"reference", "phone"} and answer.json["phone"] == "138******00"


def test_an_invalid_barcode_asks_for_it_again_in_the_pages_language(client, live_code):  # noqa: F811
    status, body = page(client, f"{live_code['path']}?barcode=12AB&lang=en")

    assert status == 422
    assert 'data-verdict="invalid_barcode"' in body and 'id="barcode-error"' in body
    assert 'name="barcode" id="barcode"' in body and 'id="next"' not in body


def test_a_new_step_or_status_shows_on_the_next_page_of_every_code_of_the_declaration(client, session, auth_headers):
    # The chain's items are kept per declaration's timeline state (app/trace/page.py): none may outlive a change.
    setup = make_setup(session)
    operator, officer = auth_headers(setup.operator), auth_headers(setup.officer)
    first, second = (code["serial"] for code in issue(client, operator, setup.declaration.id, 2).json["codes"])
    set_status(client, operator, "affixed", serials=[first, second])
    for lang in ("zh", "en"):
        _, before = page(client, f"/01/{GTIN}/21/{first}?lang={lang}")
        assert 'data-step="audited"' in before and 'data-step="released"' not in before
        assert 'data-verdict="not_released"' in before

    release(client, officer, setup.declaration.id)

    for serial in (first, second):
        _, chinese = page(client, f"/01/{GTIN}/21/{serial}")
        _, english = page(client, f"/01/{GTIN}/21/{serial}?lang=en")
        assert 'data-step="released"' in chinese and "海关放行" in chinese
        assert 'data-step="released"' in english and "Released by customs" in english
        assert 'data-verdict="genuine"' in chinese
    set_status(client, officer, "recalled", serials=[first], reason="batch recall")

    _, recalled = page(client, f"/01/{GTIN}/21/{first}")
    _, other = page(client, f"/01/{GTIN}/21/{second}")
    assert 'data-verdict="recalled"' in recalled and 'data-step="released"' in recalled
    assert 'data-verdict="genuine"' in other
