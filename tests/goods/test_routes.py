import io

import pytest
from sqlalchemy import func, select

from app.goods.models import Product
from app.users.models import Role
from tests.factories import make_user

URL = "/api/v1/products"
HEADER = "gtin,name_zh,name_en,brand,specification,origin_country,hs_code,unit\n"


def product(**overrides):
    return {
        "gtin": "4006381333931",
        "name_zh": "婴儿配方奶粉",
        "name_en": "Infant formula",
        "brand": "Milupa",
        "specification": "800g/罐",
        "origin_country": "DE",
        "hs_code": "1901101000",
        "unit": "122",
        **overrides,
    }


@pytest.fixture
def operator(session):
    return make_user(session, role=Role.WAREHOUSE_OPERATOR)


def upload(client, headers, text: str | bytes, filename="goods.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        f"{URL}/import",
        data={"file": (io.BytesIO(data), filename)},
        headers=headers,
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "gtin,stored",
    [
        ("4006381333931", "04006381333931"),  # EAN-13
        ("73513537", "00000073513537"),  # EAN-8
        ("036000291452", "00036000291452"),  # UPC-A
        ("09506000134352", "09506000134352"),  # GTIN-14, GS1's example
    ],
)
def test_a_registered_gtin_is_stored_as_gtin_14(client, auth_headers, operator, gtin, stored):
    response = client.post(URL, json=product(gtin=gtin), headers=auth_headers(operator))

    assert response.status_code == 201
    assert response.json["gtin"] == stored
    assert response.json["enterprise_id"] == operator.enterprise_id


@pytest.mark.parametrize("gtin", ["4006381333932", "400638133393", "40063813339311", "ABCDEFGHIJKLM"])
def test_an_invalid_gtin_is_422_under_the_gtin_field(client, auth_headers, operator, gtin):
    response = client.post(URL, json=product(gtin=gtin), headers=auth_headers(operator))

    assert response.status_code == 422
    assert "gtin" in response.json["errors"]["json"]


def test_one_product_per_gtin(client, auth_headers, operator):
    client.post(URL, json=product(), headers=auth_headers(operator))

    again = client.post(URL, json=product(gtin="04006381333931"), headers=auth_headers(operator))

    assert again.status_code == 409
    assert again.json["code"] == "product_exists"


@pytest.mark.parametrize(
    "field,value",
    [("origin_country", "Germany"), ("hs_code", "19011010"), ("unit", "kg"), ("name_zh", "  "), ("brand", None)],
)
def test_product_fields_are_validated(client, auth_headers, operator, field, value):
    response = client.post(URL, json=product(**{field: value}), headers=auth_headers(operator))

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_the_customs_country_code_is_accepted_too(client, auth_headers, operator):
    response = client.post(URL, json=product(origin_country="304"), headers=auth_headers(operator))

    assert response.status_code == 201


def test_only_warehouse_operators_register(client, session, auth_headers):
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)

    assert client.post(URL, json=product(), headers=auth_headers(officer)).status_code == 403


def test_officers_find_products_by_any_gtin_length_or_by_name(client, session, auth_headers, operator):
    client.post(URL, json=product(), headers=auth_headers(operator))
    client.post(
        URL,
        json=product(gtin="73513537", name_zh="维生素软糖", name_en="Vitamin gummies"),
        headers=auth_headers(operator),
    )
    headers = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))

    by_gtin = client.get(f"{URL}?gtin=4006381333931", headers=headers).json["items"]
    by_name = client.get(f"{URL}?q=软糖", headers=headers).json["items"]
    by_english = client.get(f"{URL}?q=VITAMIN", headers=headers).json["items"]

    assert [item["gtin"] for item in by_gtin] == ["04006381333931"]
    assert [item["gtin"] for item in by_name] == [item["gtin"] for item in by_english] == ["00000073513537"]


def test_the_list_is_paginated(client, session, auth_headers, operator):
    for gtin in ("4006381333931", "73513537", "036000291452"):
        client.post(URL, json=product(gtin=gtin), headers=auth_headers(operator))
    headers = auth_headers(operator)

    first = client.get(f"{URL}?limit=2", headers=headers).json
    second = client.get(f"{URL}?limit=2&cursor={first['next_cursor']}", headers=headers).json

    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None


def test_the_registering_warehouse_corrects_a_product(client, session, auth_headers, operator):
    created = client.post(URL, json=product(), headers=auth_headers(operator)).json

    mine = client.patch(f"{URL}/{created['id']}", json={"brand": "Aptamil"}, headers=auth_headers(operator))
    stranger = make_user(session, role=Role.WAREHOUSE_OPERATOR)
    theirs = client.patch(f"{URL}/{created['id']}", json={"brand": "X"}, headers=auth_headers(stranger))

    assert mine.json["brand"] == "Aptamil"
    assert theirs.status_code == 403
    assert client.get(f"{URL}/{created['id']}", headers=auth_headers(operator)).json["brand"] == "Aptamil"


def test_import_saves_good_rows_and_reports_bad_ones(client, session, auth_headers, operator):
    text = (
        HEADER
        + "4006381333931,奶粉,,Milupa,800g,DE,1901101000,122\n"
        + "4006381333932,奶粉,,Milupa,800g,DE,1901101000,122\n"
        + "73513537,软糖,Gummies,Swisse,,AU,2106909090,\n"
        + "036000291452,饼干,Crackers,Ritz,200g,US,1905900000,011\n"
    )

    response = upload(client, auth_headers(operator), text)

    assert response.status_code == 200
    report = response.json
    assert (report["created"], report["rejected"]) == (2, 2)
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(3, "gtin"), (4, "unit")}
    assert session.scalar(select(func.count()).select_from(Product)) == 2


def test_importing_the_same_file_again_changes_nothing(client, session, auth_headers, operator):
    text = (
        HEADER + "4006381333931,奶粉,,Milupa,800g,DE,1901101000,122\n73513537,软糖,Gummies,Swisse,,AU,2106909090,011\n"
    )
    headers = auth_headers(operator)
    upload(client, headers, text)
    before = session.scalars(select(Product.updated_at).order_by(Product.id)).all()

    again = upload(client, headers, text).json

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    session.expire_all()
    assert session.scalars(select(Product.updated_at).order_by(Product.id)).all() == before


def test_an_import_row_with_new_data_updates_the_product(client, auth_headers, operator):
    headers = auth_headers(operator)
    upload(client, headers, HEADER + "4006381333931,奶粉,,Milupa,800g,DE,1901101000,122\n")

    report = upload(client, headers, HEADER + "4006381333931,奶粉,,Aptamil,800g,DE,1901101000,122\n").json

    assert report["updated"] == 1
    assert client.get(f"{URL}?gtin=4006381333931", headers=headers).json["items"][0]["brand"] == "Aptamil"


def test_a_gtin_twice_in_one_file_is_reported(client, auth_headers, operator):
    text = HEADER + "4006381333931,奶粉,,Milupa,,DE,1901101000,122\n04006381333931,奶粉,,Milupa,,DE,1901101000,122\n"

    report = upload(client, auth_headers(operator), text).json

    assert report["created"] == 1
    assert report["errors"] == [
        {"row": 3, "field": "gtin", "message": "This GTIN appears on an earlier line of the file."}
    ]


def test_excel_gb18030_files_import(client, auth_headers, operator):
    text = HEADER + "4006381333931,婴儿奶粉,,美乐宝,800克,DE,1901101000,122\n"

    report = upload(client, auth_headers(operator), text.encode("gb18030")).json

    assert report["created"] == 1


def test_a_file_that_is_not_text_is_a_clear_422(client, auth_headers, operator):
    response = upload(client, auth_headers(operator), b"\xff\xfe\x00\x81\xff" * 20)

    assert response.status_code == 422
    assert response.json["code"] == "bad_import_file"


def test_a_wrong_header_is_a_clear_422(client, auth_headers, operator):
    response = upload(client, auth_headers(operator), "barcode,name\n4006381333931,奶粉\n")

    assert response.status_code == 422
    assert "gtin" in response.json["detail"]
    assert "barcode" in response.json["detail"]


def test_a_file_over_the_limit_is_413(client, app, settings, monkeypatch, auth_headers, operator):
    from dataclasses import replace

    monkeypatch.setitem(app.extensions, "settings", replace(settings, product_import_max_bytes=1024))

    response = upload(client, auth_headers(operator), HEADER + "x" * 200_000)

    assert response.status_code == 413


def test_the_cli_imports_with_a_report(app, session, tmp_path):
    path = tmp_path / "goods.csv"
    path.write_text(HEADER + "4006381333931,奶粉,,Milupa,800g,DE,1901101000,122\nbad,x,,y,,DE,1,1\n", encoding="utf-8")

    first = app.test_cli_runner().invoke(args=["goods", "import", str(path)])
    second = app.test_cli_runner().invoke(args=["goods", "import", str(path)])

    assert "1 created, 0 updated, 0 unchanged, 1 rejected." in first.output
    assert "line 3: gtin:" in first.output
    assert "0 created, 0 updated, 1 unchanged, 1 rejected." in second.output
