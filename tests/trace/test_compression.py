"""Compressed GS1 Digital Link URIs (GS1 Digital Link: Compression): decompressed as GS1's own tools compress them,
and answered as their uncompressed URIs are, with an owl:sameAs Link header (GS1-Conformant Resolver 1.2)."""

import pytest
from sqlalchemy import update

from app.trace.compression import CompressionError, decompress
from app.trace.models import TraceCode
from tests.trace.helpers import GTIN, issue, make_setup, release, set_status

JSON = {"Accept": "application/json"}
SERIAL = "X7K9QZ2M4PABCDEF"

# gs1/digital-link.js, tests/index.js at 91c85c04e2dde355e02f616179220eef4a3e9ac4 ("Compression" and DATA).
DIGITAL_LINK_JS = [
    ("HxHKVAdpQgZzjr-hCDKigI", [("01", "09780345418913"), ("10", "231"), ("15", "120820"), ("21", "345345")], []),
    ("DBHKVAdpQgowOQ", [("01", "09780345418913"), ("21", "12345")], []),
    ("DBHKVAdpQgqrCvBv0UMG21W", [("01", "09780345418913"), ("21", "43786")], [("foo", "bar")]),
    ("ARHKVAdpQkIKqwo", [("01", "09780345418913"), ("21", "43786")], []),
    (
        "HxHKVAdpQhCTxbrOF_yEFcx_4a2GeAh1mFOZkChg6Z8pgcEMEWpMganmIfESxTyJ5UvMJa9Za",
        [("01", "09780345418913"), ("10", "38737643"), ("15", "230911"), ("21", "58943")],
        [("thngId", "U5mQKGDpnymBwQwRakyBqeYh"), ("linkType", "test")],
    ),
]
# Compressed by GS1's GS1DigitalLinkToolkit.js (gs1/GS1DL-resolver-testsuite at
# e3485a5b78bee1efa4e8bc4e0dfd140472d718df, compressGS1DigitalLink with optimisations) from the URI beside each.
TOOLKIT = {
    "AQdJnd9bVg": f"/01/{GTIN}",
    "CwdJnd9bVsRfZC4L9leoM7GcHgAhBiCg": f"/01/{GTIN}/10/L7/21/{SERIAL}",
    "GgdJnd9bVsRfaJUe4L9leoM7GcHgAhBiCg": f"/01/{GTIN}/10/L7/21/{SERIAL}?17=281231",
    "CwdJnd9bVodzJC4L9leoM7GcHgAhBiCg": f"/01/{GTIN}/10/B99/21/{SERIAL}",
    "CgdJnd9bVoRUIMRfZC4L9leoM7GcHgAhBiCg": f"/01/{GTIN}/22/2A/10/L7/21/{SERIAL}",
    # Digits with leading zeros, which the toolkit's own decompressor drops (it reads /10/123/21/42): the
    # compressed form keeps the count of digits, so they come back.
    "CwdJnd9bVggD2QgoAKg": f"/01/{GTIN}/10/0123/21/00042",
}


# Compressed by GS1DigitalLinkToolkit.js (below) from element strings, one encoding or table entry each. Not ITIP
# or SSCC: the toolkit computes their 18 digits in floating point and writes the wrong number.
TOOLKIT_ELEMENTS = [
    ("nYVmywpcUVEnJ1oo", [("254", "32a%b"), ("414", "9520123456788")]),  # optimisation 9D
    ("CxFRJydaKFFXm94k", [("01", "09520123456788"), ("10", "abcdef12")]),  # lower-case hexadecimal
    ("CxFRJydaKJFXm94k", [("01", "09520123456788"), ("10", "ABCDEF12")]),  # upper-case hexadecimal
    ("CxFRJydaKQsHEhxqg", [("01", "09520123456788"), ("10", "Ab!c*")]),  # 7-bit ASCII
    ("LRFRJydaKAAXo", [("01", "09520123456788"), ("3103", "000189")]),  # optimisation 2D
    ("DBFRJydaKAQxwBy5pUA", [("01", "09520123456788"), ("21", "12"), ("7007", "190101")]),  # AI 7007 in full
    ("DRFRJydaKGJB8AEEiEkAA", [("01", "09520123456788"), ("17", "201231"), ("8008", "19010112")]),
]


@pytest.mark.parametrize("segment,elements,others", DIGITAL_LINK_JS)
def test_gs1_vectors_decompress(segment, elements, others):
    assert decompress(segment) == (tuple(elements), tuple(others))


@pytest.mark.parametrize("segment,elements", TOOLKIT_ELEMENTS)
def test_gs1_toolkit_vectors_decompress(segment, elements):
    assert decompress(segment) == (tuple(elements), ())


@pytest.mark.parametrize("segment", ["AAAA", "not-compressed!", "_____________"])
def test_what_is_not_a_compressed_digital_link_is_refused(segment):
    with pytest.raises(CompressionError):
        decompress(segment)


@pytest.fixture
def code(client, session, auth_headers):
    """An affixed code of lot L7 on a released declaration, under the serial the vectors were compressed with."""
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    issued = issue(client, headers, setup.declaration.id, 1, lot="L7").json["codes"][0]
    session.execute(update(TraceCode).where(TraceCode.serial == issued["serial"]).values(serial=SERIAL))
    set_status(client, headers, "affixed", serials=[SERIAL])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return setup


def _same_as(response):
    [link] = [link for link in response.headers["Link"].split(", ") if 'rel="owl:sameAs"' in link]
    return link.split(">")[0].lstrip("<")


@pytest.mark.parametrize("segment", [s for s, uri in TOOLKIT.items() if "21/00042" not in uri])
def test_a_compressed_uri_names_its_uncompressed_form(client, code, settings, segment):
    response = client.get(f"/{segment}", headers=JSON)

    assert _same_as(response) == f"https://{settings.trace_host}{TOOLKIT[segment]}"


def test_leading_zeros_survive_decompression(client, settings):
    response = client.get("/CwdJnd9bVggD2QgoAKg", headers=JSON)

    assert _same_as(response) == f"https://{settings.trace_host}/01/{GTIN}/10/0123/21/00042"


def test_a_compressed_item_uri_is_answered_as_the_uncompressed_one(client, code):
    compressed = client.get("/CwdJnd9bVsRfZC4L9leoM7GcHgAhBiCg", headers=JSON)
    wrong_lot = client.get("/CwdJnd9bVodzJC4L9leoM7GcHgAhBiCg", headers=JSON)
    variant = client.get("/CgdJnd9bVoRUIMRfZC4L9leoM7GcHgAhBiCg", headers=JSON)

    assert (compressed.status_code, compressed.json["verdict"]) == (200, "genuine")
    assert wrong_lot.json["verdict"] == "lot_mismatch"
    assert variant.json["verdict"] == "cpv_mismatch"


def test_a_bare_compressed_request_redirects_to_the_default_link(client, code, settings):
    response = client.get("/CwdJnd9bVsRfZC4L9leoM7GcHgAhBiCg")

    assert response.status_code == 307
    assert response.headers["Location"] == f"https://{settings.trace_host}/trace/items/{SERIAL}?lot=L7"
    assert 'rel="linkset"' in response.headers["Link"]


def test_a_compressed_data_attribute_is_passed_on(client, code):
    response = client.get("/GgdJnd9bVsRfaJUe4L9leoM7GcHgAhBiCg?linkType=gs1:traceability")

    assert response.status_code == 307
    assert response.headers["Location"].endswith(
        f"/api/v1/trace/codes/{SERIAL}?lot=L7&17=281231&linkType=gs1:traceability"
    )


def test_the_linkset_of_a_compressed_uri_is_about_the_uncompressed_one(client, code, settings):
    response = client.get("/CwdJnd9bVsRfZC4L9leoM7GcHgAhBiCg?linkType=linkset")

    anchors = [entry["anchor"] for entry in response.json["linkset"]]
    assert anchors[-1] == f"https://{settings.trace_host.upper()}/01/{GTIN}/10/L7/21/{SERIAL}"


def test_a_compressed_product_uri_redirects_to_the_product_page(client, code, settings):
    response = client.get("/AQdJnd9bVg")

    assert response.headers["Location"] == f"https://{settings.trace_host}/trace/products/{GTIN}"


def test_a_partly_compressed_uri_is_decompressed_too(client, code):
    # The GTIN in the clear, lot and serial compressed: GS1DigitalLinkToolkit.js (as above),
    # gs1ElementStringsToCompressedGS1DigitalLink with an uncompressed primary key.
    response = client.get(f"/01/{GTIN}/EGIvshcF-yvUGdjODwAQgxBQ", headers=JSON)

    assert response.json["verdict"] == "genuine"
    assert response.json["lot"] == "L7"


def test_a_single_segment_that_is_no_digital_link_is_404(client):
    response = client.get("/robots", headers=JSON)

    assert response.status_code == 404


def test_the_verify_api_reads_a_scanned_compressed_uri(client, code, settings):
    scanned = f"HTTPS://{settings.trace_host.upper()}/CwdJnd9bVodzJC4L9leoM7GcHgAhBiCg"

    response = client.post("/api/v1/trace/verify", json={"code": scanned})

    assert response.json["verdict"] == "lot_mismatch"
