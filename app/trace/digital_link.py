"""GS1 Digital Link URIs as the resolver reads them: a GTIN with any of its key qualifiers (/22/ consumer product
variant, /10/ lot, /21/ serial or /235/ third-party serial, in GS1's order), the data attributes of its query
(`?17=YYMMDD`), and compressed URIs, decompressed to the same."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import quote

import biip
from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from app.errors import DomainError
from app.i18n import _, _l
from app.trace import compression
from app.trace.canonical_uris import PRIMARY_KEYS

# The qualifiers of a GTIN in the order a Digital Link writes them (235 takes the place of 21).
QUALIFIERS = ("22", "10", "21", "235")
# Identifiers: never data attributes (a query may repeat /22/ or /10/, a claim checked like the path's).
NOT_ATTRIBUTES = set(PRIMARY_KEYS) | {"21", "235", "254", "7040", "8011", "8019"}


class BadDigitalLink(DomainError):
    status, code, title = 400, "bad_digital_link", _l("Not a valid GS1 Digital Link URI")


@dataclass(frozen=True)
class Target:
    """What a Digital Link names: the GTIN, its qualifiers, and the data attributes of its query."""

    gtin: str
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None
    tpx: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    @functools.cached_property
    def path(self) -> str:
        """The uncompressed path, qualifiers in GS1's order."""
        path = f"/01/{self.gtin}"
        for ai, value in (("22", self.cpv), ("10", self.lot), ("21", self.serial), ("235", self.tpx)):
            if value is not None:
                # Our serials and most lots are plain letters and digits, which need no escaping.
                path += f"/{ai}/{value if value.isascii() and value.isalnum() else quote(value, safe='')}"
        return path

    @property
    def query(self) -> str:
        """The data attributes as a query string (no `?`)."""
        return "&".join(f"{ai}={quote(value, safe='')}" for ai, value in self.attributes)


# A label's URI as the park prints it: the serial last, in letters and digits. AI 21 takes 1 to 20 characters of
# GS1's 82, of which these are all, so such a serial is valid wherever the path before it is.
_PLAIN_SERIAL_LAST = re.compile(r"(.*[^/])/21/([0-9A-Za-z]{1,20})/*")


def parse(host: str, rest: str, attributes: tuple[tuple[str, str], ...] = ()) -> Target:
    """The target of `/01/{rest}` with the numeric query pairs `attributes`; a bad one is a 400."""
    plain = _PLAIN_SERIAL_LAST.fullmatch(rest)
    if plain is not None and (target := _with_serial(host, *plain.groups(), attributes)) is not None:
        return target
    try:
        return _parse(host, rest, attributes)
    except BadDigitalLink:
        # A partly compressed URI keeps the GTIN and compresses the rest (/01/{gtin}/{compressed}).
        gtin, _slash, segment = rest.rstrip("/").partition("/")
        if not segment or "/" in segment or not compression.COMPRESSED.match(segment):
            raise
        try:
            elements, _others = compression.decompress(segment)
        except compression.CompressionError:
            raise BadDigitalLink(_("%(uri)s is not a GS1 Digital Link URI.", uri="/01/" + rest)) from None
        return _parse(host, *uncompressed_rest((("01", gtin), *elements), attributes))


def _with_serial(host: str, rest: str, serial: str, attributes: tuple[tuple[str, str], ...]) -> Target | None:
    """`/01/{rest}/21/{serial}` for a plain serial (above): the target of `/01/{rest}`, which every code printed
    under that product and lot shares (parsed once, cached), with the serial; None where the whole URI must be
    parsed (the path before names a serial already, or a /235/ after which /21/ cannot come, or is not valid: its
    error then names the whole URI). Most lookups are of codes this process has not seen: biip parsed each one's
    whole URI again, the GTIN's check digit and prefix included (a tenth of a Digital Link page)."""
    if "//" in rest:
        return None
    try:
        shared = _parse(host, rest, attributes)
    except BadDigitalLink:
        return None
    if shared.serial is not None or shared.tpx is not None:
        return None
    return Target(gtin=shared.gtin, cpv=shared.cpv, lot=shared.lot, serial=serial.upper(), attributes=shared.attributes)


# A request parses its path more than once, and a product's and lot's URIs are the same for all their codes.
@functools.lru_cache(maxsize=4096)
def _parse(host: str, rest: str, attributes: tuple[tuple[str, str], ...]) -> Target:
    path = "/01/" + rest.rstrip("/")
    for ai, _value in attributes:
        if ai not in _GS1_APPLICATION_IDENTIFIERS:
            raise BadDigitalLink(_("?%(ai)s= is not a GS1 Application Identifier.", ai=ai))
        if ai in NOT_ATTRIBUTES:
            raise BadDigitalLink(_("(%(ai)s) is an identifier, not a data attribute: it belongs in the path.", ai=ai))
    query = "&".join(f"{ai}={quote(value, safe='')}" for ai, value in attributes)
    try:
        uri = GS1DigitalLinkURI.parse(f"https://{host}{path}" + (f"?{query}" if query else ""))
    except (biip.BiipException, ValueError) as error:
        raise BadDigitalLink(_("%(uri)s is not a GS1 Digital Link URI: %(error)s", uri=path, error=error)) from None
    gtin, *elements = uri.element_strings
    # biip reports a wrong check digit beside the element instead of raising.
    if gtin.gtin_error or gtin.gtin is None:
        error = str(gtin.gtin_error or _("not a GTIN")).rstrip(".")
        raise BadDigitalLink(_("%(uri)s: %(error)s.", uri=path, error=error))
    qualifiers: dict[str, str] = {}
    data: list[tuple[str, str]] = []
    for element in elements:
        ai = element.ai.ai
        if ai in QUALIFIERS:
            if qualifiers.setdefault(ai, element.value) != element.value:
                raise BadDigitalLink(_("%(uri)s: the URI names two different (%(ai)s) values.", uri=path, ai=ai))
        elif ai in NOT_ATTRIBUTES:
            raise BadDigitalLink(_("%(uri)s: AI %(ai)s is not a qualifier of a GTIN.", uri=path, ai=ai))
        else:
            data.append((ai, element.value))
    serial = qualifiers.get("21")
    return Target(
        gtin=gtin.gtin.as_gtin_14(),
        cpv=qualifiers.get("22"),
        lot=qualifiers.get("10"),
        # Our serials are upper case; a hand-typed lower-case one means the same code.
        serial=serial.upper() if serial else None,
        tpx=qualifiers.get("235"),
        attributes=tuple(data),
    )


def uncompressed_rest(
    elements: tuple[tuple[str, str], ...], attributes: tuple[tuple[str, str], ...] = ()
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The `/01/` path rest and data attributes of decompressed element strings, qualifiers in GS1's order."""
    values = dict(elements)
    if "01" not in values:
        raise compression.CompressionError("no GTIN: this resolver answers for GTINs only")
    rest = values["01"] + "".join(f"/{ai}/{quote(values[ai], safe='')}" for ai in QUALIFIERS if ai in values)
    data = tuple((ai, value) for ai, value in elements if ai != "01" and ai not in QUALIFIERS)
    return rest, data + attributes
