"""GS1's resolver test suite, run against this resolver: a port of its checks to Python.

Source: gs1/GS1DL-resolver-testsuite at e3485a5b78bee1efa4e8bc4e0dfd140472d718df, `GS1DigitalLinkResolverTestSuite.js`
(the checks, `testDL` and the functions it calls, in its order) and `tester.php` (the HTTP requests they make:
`getAllHeaders`, `getCorsHeaders`, `getLinksetHeaders`, `getLinkset`). Each check below keeps the suite's id and
decides pass, warn or fail as the JavaScript does; requests go to the app through Flask's test client instead of
the suite's PHP helper and cURL, with the headers cURL would send (`Accept: */*` unless the check sets one).

Not ported, as they need the network or a server: `tlsOK` (TLS is the proxy's, deploy/), `httpVersion`
(gunicorn's), and `linkTypesDefined` (it fetches GS1's current list of link types). The schemas the suite fetches
are read from tests/reference/gs1/ (its README says where each came from).

The URI under test is the one printed on the label with its scheme in lower case, as any URI parser reads it:
the suite compares anchors as strings, and GS1's linkset schema accepts only `https?://` anchors.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import jsonschema
import pytest

from tests.trace.helpers import GTIN, REFERENCE, issue, make_setup, release, set_status

ORIGIN = "https://ref.gs1.org/test-suites/resolver/"
PASS, WARN, FAIL = "pass", "warn", "fail"
RABIN = re.compile(r"^((https?):)(//((([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?))?([^?#]*)(\?([^#]*))?(#(.*))?", re.I)
PLAUSIBLE_NO_ALPHAS = re.compile(
    r"^https?:(//((([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?))?([^?#]*)(((/(01|8006|8013|8010|414|417|8017|8018|255|00|253"
    r"|401|402|8003|8004)/)(\d{4}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?))",
    re.I,
)
GS1_NAMESPACES = re.compile(r"https://((ref\.)|(www\.))?gs1\.org/voc/", re.I)


class Suite:
    """The suite's run of one Digital Link: `results` maps each check's id to pass, warn or fail."""

    def __init__(self, client, dl: str) -> None:
        self.client, self.dl = client, dl.strip()
        self.results: dict[str, str] = {}
        self.linkset_methods: dict[str, bool] = {}

    # tester.php

    def get_all_headers(self, uri: str, media_type: str | None = None, lang: str | None = None):
        headers = {"Origin": ORIGIN, "Accept": media_type or "*/*"}
        if lang is not None:
            headers["Accept-Language"] = lang
        return self.client.get(uri, headers=headers)

    def get_cors_headers(self, uri: str):
        return self.client.options(uri, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET,HEAD,OPTIONS"})

    def get_linkset(self, uri: str):
        return self.client.get(uri, headers={"Origin": ORIGIN, "Accept": "application/linkset+json"})

    # GS1DigitalLinkResolverTestSuite.js

    def record(self, check: str, status: str) -> None:
        self.results[check] = status

    def run(self) -> dict[str, str]:
        """testDL(): the checks in the suite's order."""
        parts = RABIN.match(self.dl)
        domain = parts.group(4) if parts else ""
        self.record("isURL", PASS if parts and "." in domain else FAIL)
        self.record("isHttps", PASS if parts and parts.group(2).lower() == "https" else WARN)
        self.record("plausibleDL", PASS if PLAUSIBLE_NO_ALPHAS.match(self.dl) else FAIL)
        # validDL: the toolkit's check that the URI is a DL with one identifier, and a GTIN in 14 digits.
        gtin = re.search(r"/01/(\d+)", self.dl)
        self.record("validDL", PASS if gtin and len(gtin.group(1)) == 14 else FAIL)
        self.basic_walk_up(self.dl[: self.dl.index(gtin.group(1)) + 14] + "/10/KL8G")
        self.rd_file(domain)
        self.header_based_checks()
        self.error_code_checks()
        self.trailing_slash_check()
        self.test_query()
        self.link_type_is_linkset()
        self.lt_with_accept_header()
        self.fetch_and_validate_the_linkset()
        self.test_for_404()
        return self.results

    def basic_walk_up(self, modified: str) -> None:
        self.record("basicWalkUp", PASS if self.get_all_headers(modified).status_code != 404 else FAIL)

    def rd_file(self, domain: str) -> None:
        response = self.client.get(f"https://{domain}/.well-known/gs1resolver", headers={"Accept": "application/json"})
        schema = json.loads((REFERENCE / "resolver-description-file-schema.json").read_text())
        valid = jsonschema.Draft7Validator(schema).is_valid(response.get_json(silent=True))
        self.record("rdFile", PASS if valid else FAIL)

    def header_based_checks(self) -> None:
        response = self.get_cors_headers(strip_query(self.dl))
        self.record("corsCheck", PASS if "Access-Control-Allow-Origin" in response.headers else FAIL)
        methods = response.headers.get("Access-Control-Allow-Methods", "")
        self.record("methodsCheck", PASS if all(m in methods for m in ("GET", "HEAD", "OPTIONS")) else FAIL)
        links = (
            [f'{link}"' for link in response.headers.get("Link", "").split('",')] if "Link" in response.headers else []
        )
        self.record("linkOnRedirect", PASS if any('rel="linkset"' in link for link in links) else WARN)
        self.record("legacyLinkHeaders", WARN if any('rel="gs1:' in link for link in links) else PASS)

    def error_code_checks(self) -> None:
        status = self.get_all_headers(strip_query(self.dl) + "/foo").status_code
        self.record("reportWith400", PASS if status == 400 else FAIL)
        self.record("noErrorWith200", PASS if status != 200 else FAIL)

    def trailing_slash_check(self) -> None:
        no_slash = strip_query(self.dl).rstrip("/")
        plain, slash = self.get_all_headers(no_slash), self.get_all_headers(no_slash + "/")
        same = (plain.status_code, plain.headers.get("Location")) == (slash.status_code, slash.headers.get("Location"))
        self.record("trailingSlash", PASS if same else WARN)

    def test_query(self) -> None:
        location = self.get_all_headers(strip_query(self.dl) + "?foo=bar").headers.get("Location")
        self.record("qsPassedOn", PASS if location and "foo=bar" in location else WARN)

    def link_type_is_linkset(self) -> None:
        ok = self.get_all_headers(strip_query(self.dl) + "?linkType=linkset").status_code == 200
        self.linkset_methods["linkset"] = ok
        self.record("ltLinksetNoRedirect", PASS if ok else FAIL)

    def lt_with_accept_header(self) -> None:
        uri = strip_query(self.dl) + "?linkType=all"
        ok = self.get_all_headers(uri, "application/linkset+json", "").status_code == 200
        self.linkset_methods["accept"] = ok
        self.record("ltAcceptHeader", PASS if ok else FAIL)

    def fetch_and_validate_the_linkset(self) -> None:
        uri = strip_query(self.dl)
        if not self.linkset_methods.get("accept") and self.linkset_methods.get("linkset"):
            uri += "?linkType=linkset"
        response = self.get_linkset(uri)
        linkset = response.get_json(silent=True)
        schema = json.loads((REFERENCE / "gs1-linkset-schema.json").read_text())
        valid = linkset is not None and jsonschema.Draft7Validator(schema).is_valid(linkset)
        self.record("validLinkset", PASS if valid else FAIL)
        links = response.headers.get("Link", "").split(",")
        context = any(
            'rel="http://www.w3.org/ns/json-ld#context"' in x and 'type="application/ld+json"' in x for x in links
        )
        self.record("linksetJsonldCheck", PASS if context else WARN)
        content_type = response.headers.get("Content-Type", "")
        declared = PASS if content_type.startswith("application/linkset+json") else FAIL
        self.record("declaredContentType", WARN if content_type == "application/json" else declared)
        if valid:
            self.linkset_tests(linkset)

    def linkset_tests(self, linkset: dict) -> None:
        """linksetTests(): from the most specific anchor up, each link type once, at its most specific level."""
        working = json.loads(GS1_NAMESPACES.sub("gs1:", json.dumps(linkset)))
        path = RABIN.match(self.dl).group(10).split("/")
        current = strip_query(self.dl)
        seen: list[str] = []
        self.record("defaultLinkExists", FAIL)
        while len(path) > 2:
            for entry in working["linkset"]:
                if entry["anchor"] != current:
                    continue
                for link_type, objects in entry.items():
                    if link_type in ("anchor", "itemDescription", "description") or link_type in seen:
                        continue
                    seen.append(link_type)
                    if link_type == "gs1:defaultLink":
                        self.record("defaultLinkExists", PASS)
                        self.record("singleDefaulLink", PASS if len(objects) == 1 else FAIL)
                        if len(objects) == 1 and objects[0].get("href"):
                            self.test_default_link(objects[0]["href"])
                    elif len(objects) == 1:
                        if link_type == "gs1:defaultLinkMulti":
                            self.record("singleMultiLink", WARN)
                        else:
                            self.test_single_link_object(link_type, objects[0]["href"])
                    else:
                        self.test_multiple_links(link_type, objects, _three_hundred_links(objects))
            current = current[: current.rindex("/")]
            current = current[: current.rindex("/")]
            path = path[:-2]

    def test_default_link(self, target: str) -> None:
        location = self.get_all_headers(strip_query(self.dl)).headers.get("Location")
        self.record("defaultTarget", PASS if location == target else FAIL)

    def test_single_link_object(self, link_type: str, target: str) -> None:
        response = self.get_all_headers(f"{strip_query(self.dl)}?linkType={link_type}")
        location = response.headers.get("Location")
        check = "loFor" + link_type.replace(":", "")
        self.record(check, PASS if strip_link_type(location, link_type) == strip_link_type(target, link_type) else FAIL)

    def test_multiple_links(self, link_type: str, objects: list[dict], three_hundred: list[int]) -> None:
        done_300 = False
        for index, link in enumerate(objects):
            check = "loFor" + link_type.replace(":", "") + str(index)
            if index in three_hundred and done_300:
                continue
            query = "" if link_type == "gs1:defaultLinkMulti" else "linkType=" + quote(link_type, safe="")
            # As tester.php sends them: the link's type as Accept (an absent one as the text "undefined", which the
            # JavaScript passes on), its first hreflang as Accept-Language, its context in the query.
            media_type = link.get("type", "undefined")
            lang = link["hreflang"][0] if isinstance(link.get("hreflang"), list) else None
            context = link.get("context")
            if context is not None:
                query += f"&context={context[0] if isinstance(context, list) else context}"
            response = self.get_all_headers(f"{strip_query(self.dl)}?{query}", media_type, lang)
            if index in three_hundred:
                self.record(check, PASS if response.status_code == 300 else WARN)
                done_300 = True
                continue
            location = response.headers.get("Location")
            if strip_link_type(location, link_type) == strip_link_type(link["href"], link_type):
                self.record(check, PASS)
            else:
                self.record(check, WARN if response.status_code == 300 else FAIL)

    def test_for_404(self) -> None:
        status = self.get_all_headers(strip_query(self.dl) + "?linkType=gs1:nosuchlt").status_code
        self.record("specificLinkTypeNotFound", PASS if status == 404 else FAIL)


def strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def strip_link_type(url: str | None, link_type: str) -> str | None:
    """stripLinkType(): drop `?linkType=…` (and all after) or `&linkType=…` (and all after), encoded or not."""
    if not url:
        return url
    for written in (link_type, quote(link_type, safe="")):
        if f"?linkType={written}" in url:
            return strip_query(url)
        at = url.find(f"&linkType={written}")
        if at != -1:
            return url[:at]
    return url


def _same(first, second) -> bool:
    if not first and not second:
        return True
    if first and second and isinstance(first, list) and isinstance(second, list):
        # JavaScript's first.every((val, idx) => val === second[idx]).
        return all(index < len(second) and value == second[index] for index, value in enumerate(first))
    return bool(first and second and first == second)


def _identical(first: dict, second: dict) -> bool:
    """identicalAttributes(): the same type, hreflang and context (absent on both counts as the same)."""
    return all(_same(first.get(key), second.get(key)) for key in ("type", "hreflang", "context"))


def _three_hundred_links(objects: list[dict]) -> list[int]:
    found: list[int] = []
    for f, first in enumerate(objects):
        if f in found:
            continue
        for m, second in enumerate(objects):
            if f != m and m not in found and _identical(first, second):
                found.extend(i for i in (f, m) if i not in found)
    return found


@pytest.fixture
def label(client, session, auth_headers):
    """The URI printed on a released code's label, lot L7 (scheme in lower case, see the module docstring)."""
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    code = issue(client, headers, setup.declaration.id, 1, lot="L7").json["codes"][0]
    set_status(client, headers, "affixed", serials=[code["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return "https" + code["url"].removeprefix("HTTPS")


@pytest.mark.parametrize("level", ["item", "product"])
def test_gs1_resolver_suite_passes(client, label, level):
    dl = label if level == "item" else label[: label.index(GTIN) + len(GTIN)]

    results = Suite(client, dl).run()

    assert {check: status for check, status in results.items() if status != PASS} == {}
    # Every link the linkset lists was followed: the default, each single link type, each of several pip links.
    followed = {check for check in results if check.startswith(("loFor", "defaultTarget"))}
    expected = {"defaultTarget", "loForgs1pip0", "loForgs1pip1", "loForgs1pip2"}
    if level == "item":
        expected |= {"loForgs1traceability", "loForgs1epcis", "loForgs1verificationService"}
    assert followed == expected
