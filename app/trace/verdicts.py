"""A trace code's public verdict as a page or JSON, shared by the resolver's views and the public API: who is
looking (counted as a scan unless a bot), what the request asks for (language, media type), and the answers."""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, urlsplit

from flask import Response, abort, current_app, render_template
from werkzeug.datastructures import LanguageAccept, MIMEAccept
from werkzeug.http import parse_accept_header

from app import db
from app.common.fields import normalize_gtin
from app.config import Settings, current_settings
from app.errors import InvalidInput, NotFound
from app.goods import service as goods
from app.i18n import _, _l, in_locale
from app.infra import translated_templates
from app.infra.context import the_app, the_request
from app.rules import cache as rules
from app.rules.catalog import RuleValues
from app.trace import alarms, compression, documents, page
from app.trace.digital_link import BadDigitalLink, Target, parse, uncompressed_rest
from app.trace.lookup import CloneRules, Lookup, ScanClient, look_up, truncate_address
from app.trace.scans import ScanRecorder

HTML, JSON = "text/html", "application/json"
# Crawlers and link-preview fetchers (chat apps unfurling a pasted URL) are not people scanning.
# Matched against the lower-cased agent: with re.IGNORECASE a phone's long user agent took 35 µs, a tenth of a lookup.
BOTS = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|whatsapp|telegram|slack|discord|headless|"
    r"curl|wget|python-requests|httpclient|go-http"
)


class UnknownTraceCode(NotFound):
    code, title = "unknown_trace_code", _l("Unknown trace code")


def base() -> str:
    """The trace host's root, where the resolver's own links point."""
    return f"https://{current_settings().trace_host}"


def query_value(name: str) -> str | None:
    """A query parameter's first value, or None. MultiDict.get raises and catches a BadRequestKeyError for each
    absent one (11,000 instructions), and most resolver requests carry no query at all."""
    current = the_request()
    if not current.query_string:
        return None
    args = current.args
    return args[name] if name in args else None  # noqa: SIM401 (get would raise and catch, as above)


def language() -> str:
    """The language to answer in: `?lang=`, else Accept-Language, else Chinese."""
    # Scanner apps send neither; parsing both for nothing took a twentieth of a lookup.
    current = the_request()
    if current.query_string:
        wanted = query_value("lang")
        if wanted in ("zh", "en"):
            return wanted
    header = current.environ.get("HTTP_ACCEPT_LANGUAGE")  # as request.headers reads it, without a KeyError
    return "zh" if header is None else _language(header)


# Phones send a few distinct Accept and Accept-Language headers, and werkzeug's parse and match of a browser's Accept
# took a third of a JSON lookup (420,000 instructions; Accept-Language 90,000): each distinct header is matched once,
# as request.accept_mimetypes and request.accept_languages would match it. Bounded: an odd header costs only a miss.
@functools.lru_cache(maxsize=512)
def _language(header: str) -> str:
    return parse_accept_header(header, LanguageAccept).best_match(["zh", "en"], default="zh") or "zh"


@functools.lru_cache(maxsize=512)
def _best_type(header: str | None, offers: tuple[str, ...]) -> str | None:
    return parse_accept_header(header, MIMEAccept).best_match(offers)


def wanted(*offers: str) -> str | None:
    """The media type among `offers` the request's Accept header prefers (None if it takes none of them)."""
    # As request.headers reads it, without a KeyError when absent (the_request: app/infra/context.py)
    return _best_type(the_request().environ.get("HTTP_ACCEPT"), offers)


def _scan_client() -> ScanClient | None:
    """Who is looking, for counting; None for a bot, a HEAD or a preflight, which are not scans."""
    current = the_request()
    if current.method != "GET" and current.method != "POST":
        return None
    # The headers as request.headers reads them from the environ, without raising a KeyError for an absent one.
    client_class = _client_class(current.environ.get("HTTP_USER_AGENT", ""))
    if client_class is None:
        return None
    # A region is taken only from the park's own edge proxy, which sets it; clients could forge it.
    region = current.environ.get("HTTP_X_CLIENT_REGION") if current_settings().trusted_proxy_count else None
    return ScanClient(network=truncate_address(current.remote_addr), client_class=client_class, region=(region or None))


# Phones of one model send one user agent: classify each once.
@functools.lru_cache(maxsize=1024)
def _client_class(agent: str) -> str | None:
    """The kind of client a user agent names; None for a bot or a link preview."""
    if BOTS.search(agent.lower()):
        return None
    if "MicroMessenger" in agent:
        return "wechat"
    if "AlipayClient" in agent:
        return "alipay"
    if agent.startswith("Mozilla/"):
        return "browser"
    return "other"


def clone_rules(values: RuleValues) -> CloneRules:
    """The clone rules among the run-time rules in force (`app.rules.cache.current()`)."""
    return CloneRules(
        lookups=values.trace_scan_limit,
        networks=values.trace_network_limit,
        regions=values.trace_region_limit,
        window=values.trace_network_window,
    )


# The rules in force and their clone rules, built once per copy of the rules rather than once per lookup.
_clone_held: tuple[RuleValues, CloneRules] | None = None


def _clone_rules_in_force(settings: Settings) -> CloneRules:
    global _clone_held
    # From the process's copy of the rules: no query here, however often the lookups come (app/rules/cache.py).
    values = rules.current(settings)
    held = _clone_held
    if held is None or held[0] is not values:
        held = _clone_held = (values, clone_rules(values))
    return held[1]


def _look_up(serial: str, *, gtin: str | None, barcode: str | None, lot: str | None, cpv: str | None) -> Lookup | None:
    settings = current_settings()
    clone = _clone_rules_in_force(settings)
    lookup = look_up(serial, gtin=gtin, barcode=barcode, client=_scan_client(), rules=clone, lot=lot, cpv=cpv)
    if lookup is not None and lookup.scan is not None:
        if settings.trace_scans_in_background:
            _recorder(clone).record(lookup.scan, rules=clone)
        else:
            with db.transaction() as session:
                alarms.record_scans(session, [lookup.scan], rules=clone)
    return lookup


def _recorder(rules: CloneRules) -> ScanRecorder:
    extensions = the_app().extensions
    recorder = extensions.get("trace_scan_recorder")
    if recorder is None:
        recorder = extensions.setdefault("trace_scan_recorder", ScanRecorder(extensions["sessionmaker"], rules=rules))
    return recorder


def barcode_of(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return normalize_gtin(raw)
    except ValueError as error:
        raise InvalidInput(
            _("The barcode %(barcode)s is not a valid GTIN: %(error)s", barcode=repr(raw), error=error),
            errors={"query": {"barcode": [str(error)]}},
        ) from None


def _unknown(serial: str) -> UnknownTraceCode:
    return UnknownTraceCode(
        _("No trace code %(serial)s was issued in this park; the label may be forged.", serial=serial)
    )


def verify(code: str, *, barcode: str | None) -> Response:
    """The verdict document for a scanned code (its URL or serial) and an optional product barcode, as JSON."""
    if "/01/" in code or code.lower().startswith(("https://", "http://")):
        target = _target(code)
        if target.serial is None:
            raise BadDigitalLink(_("The code names a product, not a traced item (no /21/ serial)."))
        serial, gtin, lot, cpv = target.serial, target.gtin, target.lot, target.cpv
    else:
        serial, gtin, lot, cpv = code.strip().upper(), None, None, None
    lookup = _look_up(serial, gtin=gtin, barcode=barcode, lot=lot, cpv=cpv)
    if lookup is None:
        raise _unknown(serial)
    return _json(documents.verdict_document(lookup, language(), as_json=True))


def _json(document: dict[str, object]) -> Response:
    """The JSON answer of a document (the_app: app/infra/context.py)."""
    return the_app().json.response(document)


def reported_code(uri: str) -> tuple[str | None, str | None, str | None]:
    """The serial, GTIN and lot a page's address names (a Digital Link, compressed or not, or the default link's
    `/trace/items/{serial}?lot=`), for a shopper's report from that page; (None, None, None) if it names no code."""
    parts = urlsplit(uri)
    if parts.path.startswith("/trace/items/"):
        lot = next((value for key, value in parse_qsl(parts.query) if key == "lot"), None)
        return parts.path.rsplit("/", 1)[-1].upper() or None, None, lot
    try:
        target = _target(uri)
    except BadDigitalLink:
        return None, None, None
    return target.serial, target.gtin, target.lot


def _target(uri: str) -> Target:
    """What a scanned Digital Link names, compressed or not; a bad one is a 400."""
    host = current_settings().trace_host
    if "/01/" in uri:
        return parse(host, uri.split("/01/", 1)[1].split("?", 1)[0])
    segment = urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        elements, _others = compression.decompress(segment)
        return parse(host, *uncompressed_rest(elements))
    except compression.CompressionError:
        raise BadDigitalLink(_("%(uri)s is not a GS1 Digital Link URI.", uri=uri)) from None


def public_code(serial: str, *, as_page: bool = False) -> Response:
    """A code's verdict by serial, checking the lot and variant a Digital Link's redirect carried (`lot`, `cpv`):
    JSON, or (`as_page`) the page or JSON by Accept."""
    if as_page:
        return verdict(serial.upper(), gtin=None, lot=query_value("lot"), cpv=query_value("cpv"))
    lookup = _look_up(serial.upper(), gtin=None, barcode=None, lot=query_value("lot"), cpv=query_value("cpv"))
    if lookup is None:
        raise _unknown(serial)
    return _json(documents.verdict_document(lookup, language(), as_json=True))


def _page(lookup: Lookup | None, *, lang: str, status: int, error: str | None = None, serial: str = "") -> Response:
    barcode = query_value("barcode")
    # No locale switch around it (Flask-Babel's force_locale parsed the locale again, 4% of a page): the page's words
    # are page.words(lang), its chain titles and country names are looked up by `lang`, and a problem's text on it
    # (`error`) was written before.
    document = documents.verdict_document(lookup, lang) if lookup else None
    body = render_template(
        translated_templates.name_in(lang, "trace/code.html"),
        lang=lang,
        document=document,
        chain_items=page.chain_items(document["chain"], shared=lookup.shared_chain) if lookup and document else None,
        barcode=barcode or "",
        error=error,
        **page.page_facts(lookup, serial=serial, barcode=barcode if error is None else None, lang=lang),
        **page.words(lang),
    )
    return Response(body, status=status, mimetype="text/html")


def product_answer(gtin: str, lang: str) -> Response:
    """A registered product as the page or JSON (by Accept); 404 if the park has no product of that GTIN."""
    with db.transaction() as session:
        product = goods.find_product_by_gtin(session, gtin)
    if product is None:
        raise NotFound(_("No product with GTIN %(gtin)s is registered in this park.", gtin=gtin))
    if wanted(HTML, JSON) == JSON:
        return current_app.json.response(documents.product_document(product, lang))
    with in_locale(lang):
        product_document = documents.product_document(product, lang)
        body = render_template("trace/product.html", lang=lang, product=product_document, **page.words(lang))
    return Response(body, mimetype="text/html")


def verdict(serial: str, *, gtin: str | None, lot: str | None, cpv: str | None, best: str | None = None) -> Response:
    """A code's verdict as the page or JSON (by Accept, or `best` if the caller matched it already), the product
    barcode of `?barcode=` checked too."""
    lang = language()
    best = best or wanted(HTML, JSON)
    if best is None:
        abort(406)
    wants_html = best == HTML
    try:
        barcode = barcode_of(query_value("barcode"))
    except InvalidInput as error:
        if not wants_html:
            raise
        return _page(None, lang=lang, status=422, error=error.detail, serial=serial)
    lookup = _look_up(serial, gtin=gtin, barcode=barcode, lot=lot, cpv=cpv)
    if wants_html:
        return _page(lookup, lang=lang, status=200 if lookup else 404, serial=serial)
    if lookup is None:
        raise _unknown(serial)
    return _json(documents.verdict_document(lookup, lang, as_json=True))
