"""The GS1 Digital Link resolver at the root of the trace host, and the public verification it shares.

One URI, several answers by content negotiation: a mobile page for a phone's camera, the verdict
as JSON for the app, an RFC 9264 linkset for machines, and 307 redirects for a requested link type.
"""

from __future__ import annotations

import functools
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import biip
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from flask import Response, abort, current_app, redirect, render_template, request
from flask.views import MethodView
from werkzeug.datastructures import LanguageAccept, MIMEAccept
from werkzeug.http import parse_accept_header

from app import db
from app.common.blueprint import Blueprint
from app.common.fields import normalize_gtin
from app.config import Settings, current_settings
from app.errors import DomainError, InvalidInput, NotFound
from app.goods import service as goods
from app.i18n import in_locale
from app.infra.ratelimit import public_lookup
from app.trace import alarms, documents, page
from app.trace.lookup import CloneRules, Lookup, ScanClient, linked_product, look_up, truncate_address
from app.trace.scans import ScanRecorder

blp = Blueprint(
    "resolver",
    __name__,
    description="GS1 Digital Link resolver for trace codes (public, at the trace host's root).",
    template_folder="templates",
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HTML, JSON, LINKSET = "text/html", "application/json", "application/linkset+json"
# Crawlers and link-preview fetchers (chat apps unfurling a pasted URL) are not people scanning.
# Matched against the lower-cased agent: with re.IGNORECASE a phone's long user agent took 35 µs, a tenth of a lookup.
BOTS = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|whatsapp|telegram|slack|discord|headless|"
    r"curl|wget|python-requests|httpclient|go-http"
)
REDIRECTS = {"pip", "traceability", "epcis"}
LINKSET_TYPES = {"linkset", "all"}


class BadDigitalLink(DomainError):
    status, code, title = 400, "bad_digital_link", "Not a valid GS1 Digital Link URI"


class UnknownTraceCode(NotFound):
    code, title = "unknown_trace_code", "Unknown trace code"


class LinkTypeUnavailable(NotFound):
    code, title = "link_type_unavailable", "No link of that type"


@dataclass(frozen=True)
class Target:
    gtin: str
    serial: str | None
    lot: str | None


def parse(rest: str) -> Target:
    """The GTIN, lot and serial of a Digital Link path after /01/; a bad one is a 400."""
    return _parse(current_settings().trace_host, rest)


# A request parses its path twice (the answer, the Link header), and a code is looked up again and again.
@functools.lru_cache(maxsize=4096)
def _parse(host: str, rest: str) -> Target:
    path = "/01/" + rest.rstrip("/")
    try:
        uri = GS1DigitalLinkURI.parse(f"https://{host}{path}")
    except (biip.BiipException, ValueError) as error:
        raise BadDigitalLink(f"{path} is not a GS1 Digital Link URI: {error}") from None
    elements = {element.ai.ai: element for element in uri.element_strings}
    gtin = elements["01"]
    # biip reports a wrong check digit beside the element instead of raising.
    if gtin.gtin_error or gtin.gtin is None:
        raise BadDigitalLink(f"{path}: {gtin.gtin_error or 'not a GTIN'}.")
    unsupported = set(elements) - {"01", "10", "21"}
    if unsupported:
        raise BadDigitalLink(f"{path}: this resolver knows GTIN, lot and serial only, not AI {min(unsupported)}.")
    serial, lot = elements.get("21"), elements.get("10")
    return Target(
        gtin=gtin.gtin.as_gtin_14(),
        # Our serials are upper case; a hand-typed lower-case one means the same code.
        serial=serial.value.upper() if serial else None,
        lot=lot.value if lot else None,
    )


def _base() -> str:
    return f"https://{current_settings().trace_host}"


def _query(name: str) -> str | None:
    """A query parameter's first value, or None. MultiDict.get raises and catches a BadRequestKeyError for each
    absent one (11,000 instructions), and most resolver requests carry no query at all."""
    if not request.query_string:
        return None
    args = request.args
    return args[name] if name in args else None  # noqa: SIM401 (get would raise and catch, as above)


def _lang() -> str:
    # Scanner apps send neither; parsing both for nothing took a twentieth of a lookup.
    if request.query_string:
        wanted = _query("lang")
        if wanted in ("zh", "en"):
            return wanted
    header = request.headers.get("Accept-Language")
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


def _wanted(*offers: str) -> str | None:
    """The media type among `offers` the request's Accept header prefers (None if it takes none of them)."""
    return _best_type(request.headers.get("Accept"), offers)


def _scan_client() -> ScanClient | None:
    """Who is looking, for counting; None for a bot, a HEAD or a preflight, which are not scans."""
    if request.method != "GET" and request.method != "POST":
        return None
    client_class = _client_class(request.headers.get("User-Agent", ""))
    if client_class is None:
        return None
    # A region is taken only from the park's own edge proxy, which sets it; clients could forge it.
    region = request.headers.get("X-Client-Region") if current_settings().trusted_proxy_count else None
    return ScanClient(network=truncate_address(request.remote_addr), client_class=client_class, region=(region or None))


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


def clone_rules(settings: Settings) -> CloneRules:
    return CloneRules(
        lookups=settings.trace_scan_limit,
        networks=settings.trace_network_limit,
        regions=settings.trace_region_limit,
        window=settings.trace_network_window,
    )


def _look_up(
    serial: str, *, gtin: str | None, barcode: str | None, count: bool, lot: str | None = None
) -> Lookup | None:
    settings = current_settings()
    client = _scan_client() if count else None
    rules = clone_rules(settings)
    lookup = look_up(serial, gtin=gtin, barcode=barcode, client=client, rules=rules, lot=lot)
    if lookup is not None and lookup.scan is not None:
        if settings.trace_scans_in_background:
            _recorder(rules).record(lookup.scan)
        else:
            with db.transaction() as session:
                alarms.record_scans(session, [lookup.scan], rules=rules)
    return lookup


def _recorder(rules: CloneRules) -> ScanRecorder:
    recorder = current_app.extensions.get("trace_scan_recorder")
    if recorder is None:
        recorder = current_app.extensions.setdefault(
            "trace_scan_recorder", ScanRecorder(current_app.extensions["sessionmaker"], rules=rules)
        )
    return recorder


def _barcode(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return normalize_gtin(raw)
    except ValueError as error:
        raise InvalidInput(
            f"The barcode {raw!r} is not a valid GTIN: {error}", errors={"query": {"barcode": [str(error)]}}
        ) from None


def verify(code: str, *, barcode: str | None) -> Response:
    """The verdict document for a scanned code (its URL or serial) and an optional product barcode, as JSON."""
    if "/01/" in code:
        target = parse(code.split("/01/", 1)[1].split("?", 1)[0])
        serial, gtin, lot = target.serial, target.gtin, target.lot
        if serial is None:
            raise BadDigitalLink("The code names a product, not a traced item (no /21/ serial).")
    else:
        serial, gtin, lot = code.strip().upper(), None, None
    lookup = _look_up(serial, gtin=gtin, barcode=barcode, count=True, lot=lot)
    if lookup is None:
        raise UnknownTraceCode(f"No trace code {serial} was issued in this park; the label may be forged.")
    return current_app.json.response(documents.verdict_document(lookup, _lang(), as_json=True))


def _link_header(target: Target) -> str:
    item = f"/10/{target.lot}" if target.lot else ""
    serial = f"{item}/21/{target.serial}" if target.serial else ""
    return f'<{_base()}/01/{target.gtin}{serial}?linkType=linkset>; rel="linkset"; type="{LINKSET}"'


def _link_type() -> str | None:
    raw = _query("linkType")
    if raw is None:
        return None
    for prefix in ("gs1:", "https://gs1.org/voc/", "https://ref.gs1.org/voc/", "http://gs1.org/voc/"):
        if raw.startswith(prefix):
            return raw[len(prefix) :]
    return raw


def _redirect(link_type: str, target: Target) -> Response:
    if link_type == "pip":
        href = f"{_base()}/01/{target.gtin}"
    elif target.serial is not None:
        href = documents.item_links(_base(), target.serial)[link_type]
    else:
        raise LinkTypeUnavailable(f"A product (no serial) has no gs1:{link_type} link here.")
    # The resolver passes the request's query on to the target, as GS1's resolver standard asks.
    query = request.query_string.decode()
    return redirect(f"{href}?{query}" if query else href, code=307)


def _page(lookup: Lookup | None, *, lang: str, status: int, error: str | None = None, serial: str = "") -> Response:
    with in_locale(lang):  # the page's words, and any problem text on it, in the page's language
        body = render_template(
            "trace/code.html",
            lang=lang,
            document=documents.verdict_document(lookup, lang) if lookup else None,
            barcode=_query("barcode") or "",
            error=error,
            **page.page_facts(lookup, serial=serial, barcode=_query("barcode") if error is None else None, lang=lang),
            **page.words(lang),
        )
    return Response(body, status=status, mimetype="text/html")


def _product_page(target: Target, lang: str) -> Response:
    with db.transaction() as session:
        product = goods.find_product_by_gtin(session, target.gtin)
    if product is None:
        raise NotFound(f"No product with GTIN {target.gtin} is registered in this park.")
    if _wanted(HTML, JSON) == JSON:
        return current_app.json.response(documents.product_document(product, lang))
    with in_locale(lang):
        product_document = documents.product_document(product, lang)
        body = render_template("trace/product.html", lang=lang, product=product_document, **page.words(lang))
    return Response(body, mimetype="text/html")


def resolve(rest: str) -> Response:
    """Answer a Digital Link request by link type and media type (see the module docstring)."""
    target = parse(rest)
    link_type = _link_type()
    best = _wanted(HTML, JSON, LINKSET)
    if link_type in LINKSET_TYPES or (link_type is None and best == LINKSET):
        name = linked_product(target.gtin, target.serial, target.lot)
        if name is None:
            raise UnknownTraceCode(f"Nothing is registered under {request.path}.")
        response = current_app.json.response(
            documents.linkset(base=_base(), gtin=target.gtin, serial=target.serial, lot=target.lot, name=name)
        )
        response.mimetype = LINKSET
        response.headers["Cache-Control"] = "public, max-age=300"
        return response
    if link_type == "pip" and target.serial is None:
        # The product's own URI is its information page: answer it here, never a redirect to the same URI (a loop a
        # phone's browser follows until it gives up).
        return _product_page(target, _lang())
    if link_type is not None and link_type != "defaultLink":
        if link_type not in REDIRECTS:
            raise LinkTypeUnavailable(f"This resolver has no {request.args['linkType']} link for {request.path}.")
        return _redirect(link_type, target)
    lang = _lang()
    if target.serial is None:
        return _product_page(target, lang)
    if best is None:
        abort(406)
    wants_html = best == HTML
    try:
        barcode = _barcode(_query("barcode"))
    except InvalidInput as error:
        if not wants_html:
            raise
        return _page(None, lang=lang, status=422, error=error.detail, serial=target.serial)
    lookup = _look_up(target.serial, gtin=target.gtin, barcode=barcode, count=True, lot=target.lot)
    if wants_html:
        return _page(lookup, lang=lang, status=200 if lookup else 404, serial=target.serial)
    if lookup is None:
        raise UnknownTraceCode(f"No trace code {target.serial} was issued in this park; the label may be forged.")
    return current_app.json.response(documents.verdict_document(lookup, lang, as_json=True))


@blp.app_template_filter("shanghai")
def _shanghai(moment: datetime) -> str:
    """A time as people in the park read it."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@blp.after_request
def _resolver_headers(response: Response) -> Response:
    # Any web page may ask the resolver (GS1 resolver standard: CORS), and read its Link header.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Link, Location"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Accept-Language"
        response.headers["Access-Control-Max-Age"] = "86400"
    rest = (request.view_args or {}).get("rest")
    if rest is not None:
        with suppress(BadDigitalLink):
            response.headers["Link"] = _link_header(parse(rest))
    response.vary.update(("Accept", "Accept-Language"))
    if "Cache-Control" not in response.headers:  # setdefault raises and catches a KeyError when it is absent
        response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/01/<path:rest>")
class DigitalLink(MethodView):
    @public_lookup
    @blp.doc(
        summary="Resolve a trace code or product (GS1 Digital Link)",
        responses={
            "200": {"description": "Mobile page, verdict JSON, or linkset, by Accept and linkType"},
            "307": {"description": "Redirect to the link type asked for with linkType"},
            "400": "BAD_REQUEST",
            "404": "NOT_FOUND",
            "406": "NOT_ACCEPTABLE",
            "422": "UNPROCESSABLE_ENTITY",
            "429": "TOO_MANY_REQUESTS",
        },
    )
    def get(self, rest):
        """/01/{gtin}[/10/{lot}]/21/{serial}: the verdict page, JSON, linkset or a redirect by link type.

        400 for a URI that is not a valid Digital Link (a wrong GTIN check digit too), 404 for an unknown code
        (a browser gets a page saying so), 422 for a `barcode` that is not a valid GTIN.
        """
        return resolve(rest)


@blp.route("/.well-known/gs1resolver")
class ResolverDescription(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "The resolver description (JSON)",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    )
    def get(self):
        """The resolver description file (GS1-Conformant Resolver 1.2)."""
        base = _base()
        response = current_app.json.response(
            {
                "name": "Smart Park trace code resolver",
                "resolverRoot": base,
                "supportedPrimaryKeys": ["01"],
                "supportedLinkType": [
                    {"namespace": documents.GS1_VOC, "prefix": "gs1:", "profile": f"{documents.GS1_VOC}?show=linktypes"}
                ],
                "activeLinkTypes": list(documents.LINK_TYPES),
                "linkTypeDefaultCanBeAll": False,
                "supportedContextValuesEnumerated": [],
                "contact": {"fn": "Smart Park", "hasEmail": "mailto:trace@smartpark.example.cn"},
            }
        )
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
