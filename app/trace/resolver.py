"""The GS1 Digital Link resolver at the root of the trace host (GS1-Conformant Resolver 1.2; docs/resolver.md says
which statement each part meets), and the public verification it shares.

One URI, several answers: a bare request is redirected (307) to the default link; a link type asked for with
`linkType` is redirected to (or its candidates offered with 300); the linkset by `linkType=linkset` or its media
type; and a client that names a page or JSON (a phone's browser, the app) gets the verdict here.
"""

from __future__ import annotations

import functools
from contextlib import suppress
from datetime import datetime
from urllib.parse import urlencode

from flask import Request, Response, current_app, g, redirect, request
from flask.blueprints import BlueprintSetupState
from flask.views import MethodView
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from app.common.blueprint import Blueprint
from app.common.fields import normalize_gtin
from app.config import current_settings
from app.errors import NotFound
from app.i18n import LOCALES, _, _l
from app.infra import translated_templates
from app.infra.context import the_app, the_g, the_request
from app.infra.ratelimit import public_lookup
from app.trace import compression, digital_link, documents, links, page, verdicts
from app.trace.digital_link import BadDigitalLink, Target
from app.trace.lookup import linked_product

blp = Blueprint(
    "resolver",
    __name__,
    description="GS1 Digital Link resolver for trace codes (public, at the trace host's root).",
    template_folder="templates",
)

HTML, JSON, LINKSET = "text/html", "application/json", "application/linkset+json"
PROBLEM_JSON = "application/problem+json"
LINKSET_TYPES = {"linkset", "all"}
LINKSET_LINK = '<{uri}?linkType=linkset>; rel="linkset"; type="application/linkset+json"'
CONTEXT_LINK = f'<{links.LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


class LinkTypeUnavailable(NotFound):
    code, title = "link_type_unavailable", _l("No link of that type")


def parse(rest: str, attributes: tuple[tuple[str, str], ...] = ()) -> Target:
    """The GTIN, qualifiers and data attributes of a Digital Link path after /01/; a bad one is a 400."""
    return digital_link.parse(current_settings().trace_host, rest, attributes)


def _attributes(current: Request) -> tuple[tuple[str, str], ...]:
    """The query's GS1 data attributes (its numeric keys), for checking."""
    if not current.query_string:
        return ()
    return tuple((key, value) for key, value in current.args.items(multi=True) if key[:1].isdigit())


def _link_type() -> str | None:
    raw = verdicts.query_value("linkType")
    if raw is None:
        return None
    for prefix in ("gs1:", "https://gs1.org/voc/", "https://ref.gs1.org/voc/", "http://gs1.org/voc/"):
        if raw.startswith(prefix):
            return raw[len(prefix) :]
    return raw


def _follow(target: Target, link_type: str, *, passed_on: str, accept: str | None) -> Response:
    """Redirect (307) to the link of `link_type` that fits the request, or offer the candidates (300)."""
    base = verdicts.base()
    levels = links.levels(base, current_settings().trace_host, target)
    candidates = links.links_of_type(levels, link_type)
    if not candidates:
        raise LinkTypeUnavailable(
            _("This resolver has no gs1:%(link_type)s link for %(path)s.", link_type=link_type, path=target.path)
        )
    chosen = candidates
    if len(candidates) > 1:  # most link types have one link: nothing of the request to weigh
        chosen = links.select(
            candidates,
            accept=accept,
            language=verdicts.query_value("lang") or request.headers.get("Accept-Language"),
            context=verdicts.query_value("context"),
        )
    if len(chosen) > 1:
        response = current_app.json.response(links.choices(levels[-1].anchor, chosen))
        response.status_code = 300
        response.mimetype = LINKSET
        return response
    href = chosen[0].href
    # Our links lead to pages and APIs, never back to a Digital Link: a redirect to the request's own URI is a loop
    # a phone's browser follows until it gives up.
    if href.partition("?")[0] == base + request.path:
        raise LinkTypeUnavailable(
            _("The gs1:%(link_type)s link of %(path)s is this URI itself.", link_type=link_type, path=target.path)
        )
    # The resolver passes the request's query on to the target, as GS1's resolver standard asks.
    if passed_on:
        href += ("&" if "?" in href else "?") + passed_on
    return redirect(href, code=307)


def _linkset(target: Target) -> Response:
    name = linked_product(target.gtin, target.serial, target.lot)
    if name is None or (target.serial is not None and target.cpv is not None):
        raise verdicts.UnknownTraceCode(_("Nothing is registered under %(path)s.", path=target.path))
    description = name if target.serial is None else f"{name}, 溯源码 {target.serial}"
    levels = links.levels(verdicts.base(), current_settings().trace_host, target)
    response = the_app().json.response(links.linkset(levels, name, description))
    response.mimetype = LINKSET
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def resolve(target: Target, *, passed_on: str) -> Response:
    """Answer a Digital Link request by link type and media type (see the module docstring)."""
    link_type = _link_type()
    # As request.headers reads it, without a KeyError when absent (the_request: app/infra/context.py)
    accept = the_request().environ.get("HTTP_ACCEPT")
    best, named = _negotiate(accept)
    if link_type in LINKSET_TYPES or (link_type is None and best == LINKSET):
        g.resolver_links += f", {CONTEXT_LINK}"
        return _linkset(target)
    if link_type is not None:
        return _follow(target, link_type, passed_on=passed_on, accept=accept)
    if not named:
        # A bare request (no Accept, or */*) goes to the default link (GS1 resolver standard).
        return _follow(target, "defaultLink", passed_on=passed_on, accept=accept)
    # A client that names the page or JSON gets the identified thing's own answer here: a phone's browser spares a
    # round trip on a mobile network, and the verdict checks every qualifier the URI names.
    if target.serial is None:
        return verdicts.product_answer(target.gtin, verdicts.language())
    return verdicts.verdict(target.serial, gtin=target.gtin, lot=target.lot, cpv=target.cpv, best=best)


@functools.lru_cache(maxsize=512)
def _negotiate(accept: str | None) -> tuple[str | None, bool]:
    """The media type an Accept header prefers among ours, and whether it names one at all (not only */*)."""
    parsed = parse_accept_header(accept, MIMEAccept)
    return parsed.best_match((HTML, JSON, LINKSET)), any(value != "*/*" for value in parsed.values())


def _links_for(target: Target, *, same_as: str | None = None) -> None:
    # Every answer links to its linkset, redirects and errors too (GS1 resolver standard); a compressed URI names
    # its uncompressed form. Kept on g so the after-request step adds them to whatever the view's answer became.
    found = LINKSET_LINK.format(uri=f"{verdicts.base()}{target.path}")
    g.resolver_links = found if same_as is None else f'{found}, <{same_as}>; rel="owl:sameAs"'


@blp.record_once
def _translated_pages(state: BlueprintSetupState) -> None:
    # The trace pages' fixed texts translated as they compile, once per language (app/infra/translated_templates.py).
    translated_templates.install(state.app.jinja_env, lambda lang: page.words(lang)["_"], LOCALES)


@blp.app_template_filter("shanghai")
def _shanghai(moment: datetime) -> str:
    """A time as people in the park read it."""
    return documents.local_time(moment)


@blp.after_request
def _resolver_headers(response: Response) -> Response:
    # Any web page may ask the resolver (GS1 resolver standard: CORS), and read its Link header.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Link, Location"
    current = the_request()
    if current.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Accept-Language"
        response.headers["Access-Control-Max-Age"] = "86400"
        rest = (current.view_args or {}).get("rest")
        if rest is not None:  # a preflight of a Digital Link names its linkset too (GS1's suite reads it there)
            with suppress(BadDigitalLink):
                _links_for(parse(rest))
    found = the_g().get("resolver_links")
    if found is not None:  # the only Link header a resolver answer gets: add it without looking for another
        response.headers.add("Link", found)
    # The names present, in one pass: werkzeug's `in` raises and catches a BadRequestKeyError for an absent header.
    present = {name.lower() for name, _value in response.headers.items()}
    if "vary" in present:
        response.vary.update(("Accept", "Accept-Language"))
    else:  # as the update writes it, without parsing an absent header into a set and writing that back
        response.headers["Vary"] = "Accept, Accept-Language"
    if "cache-control" not in present:
        response.headers["Cache-Control"] = "no-store"
    return response


PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
PAGE = {"schema": {"type": "string"}}
OBJECT = {"schema": {"type": "object"}}
# The pages answer by Accept: HTML for a browser (a missing code or a bad barcode too, as a page that says so), else
# JSON or a problem.
PAGE_RESPONSES = {
    "200": {"description": "The page, or JSON by Accept", "content": {"text/html": PAGE, JSON: OBJECT}},
    "404": {
        "description": "Not found: a page saying so, or a problem",
        "content": {"text/html": PAGE, PROBLEM_JSON: PROBLEM},
    },
    "406": "NOT_ACCEPTABLE",
    "422": {
        "description": "`barcode` is not a GTIN: the page says so, or a problem",
        "content": {"text/html": PAGE, PROBLEM_JSON: PROBLEM},
    },
}
RESOLVER_RESPONSES = {
    **PAGE_RESPONSES,
    "200": {
        "description": "The page, verdict JSON, or linkset, by Accept and linkType",
        "content": {"text/html": PAGE, JSON: OBJECT, LINKSET: OBJECT},
    },
    "300": {
        "description": "Several links fit the request equally: the candidates, as a linkset",
        "content": {LINKSET: OBJECT},
    },
    "307": {"description": "Redirect to the default link (a bare request) or to the link type asked for"},
    "400": "BAD_REQUEST",
    "429": "TOO_MANY_REQUESTS",
}


@blp.route("/01/<path:rest>")
class DigitalLink(MethodView):
    @public_lookup
    @blp.doc(summary="Resolve a trace code or product (GS1 Digital Link)", responses=RESOLVER_RESPONSES)
    def get(self, rest):
        """/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]: the verdict, linkset or a redirect, by link type and Accept.

        A bare request (no Accept, or */*) is redirected to the default link; one that names text/html or
        application/json is answered here. Data attributes in the query (`?17=YYMMDD`) are checked. 400 for a URI
        that is not a valid Digital Link (a wrong GTIN check digit too), 404 for an unknown code (a browser gets a
        page saying so), 422 for a `barcode` that is not a valid GTIN.
        """
        current = the_request()
        target = parse(rest, _attributes(current))
        _links_for(target)
        return resolve(target, passed_on=current.query_string.decode())


@blp.route("/<string:segment>")
class CompressedDigitalLink(MethodView):
    @public_lookup
    @blp.doc(summary="Resolve a compressed GS1 Digital Link", responses=RESOLVER_RESPONSES)
    def get(self, segment):
        """A compressed Digital Link, answered as its uncompressed URI is (named in an owl:sameAs Link)."""
        try:
            elements, others = compression.decompress(segment)
            rest, attributes = digital_link.uncompressed_rest(elements)
        except compression.CompressionError:
            raise NotFound(
                _("/%(segment)s is neither a page nor a compressed GS1 Digital Link.", segment=segment)
            ) from None
        target = parse(rest, attributes)
        query = "&".join(filter(None, (target.query, urlencode(others))))
        passed_on = "&".join(filter(None, (query, request.query_string.decode())))
        same_as = f"{verdicts.base()}{target.path}" + (f"?{query}" if query else "")
        _links_for(target, same_as=same_as)
        return resolve(target, passed_on=passed_on)


@blp.route("/trace/products/<string:gtin>")
class ProductPage(MethodView):
    @public_lookup
    @blp.doc(responses={"200": PAGE_RESPONSES["200"], "404": PAGE_RESPONSES["404"]})
    def get(self, gtin):
        """A registered product as a shopper reads it (the gs1:pip and default link of a product's Digital Link)."""
        try:
            gtin = normalize_gtin(gtin)
        except ValueError:
            raise NotFound(_("%(gtin)s is not a GTIN.", gtin=gtin)) from None
        return verdicts.product_answer(gtin, verdicts.language())


@blp.route("/trace/items/<string:serial>")
class ItemPage(MethodView):
    @public_lookup
    @blp.doc(
        parameters=[
            {"in": "query", "name": name, "schema": {"type": "string"}, "description": description}
            for name, description in (
                ("lot", "The lot the label names; another than the code's is a lot_mismatch."),
                ("cpv", "The consumer product variant the label names (our codes have none)."),
                ("barcode", "The product barcode scanned beside the code."),
            )
        ],
        responses={
            **PAGE_RESPONSES,
        },
    )
    def get(self, serial):
        """A code's verdict page (the default link of a trace code's Digital Link), the label's lot checked."""
        return verdicts.verdict(
            serial.upper(), gtin=None, lot=verdicts.query_value("lot"), cpv=verdicts.query_value("cpv")
        )


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
        base = verdicts.base()
        response = current_app.json.response(
            {
                "name": "Smart Park trace code resolver",
                "resolverRoot": base,
                "supportedPrimaryKeys": ["01"],
                "supportedLinkType": [
                    {"namespace": links.GS1_VOC, "prefix": "gs1:", "profile": f"{links.GS1_VOC}?show=linktypes"}
                ],
                "activeLinkTypes": list(links.LINK_TYPES),
                "linkTypeDefaultCanBeAll": False,
                "linkTypeDefaultCanBeLinkset": False,
                "jsonLdContextLocation": links.LINKSET_CONTEXT,
                "supportedContextValuesEnumerated": [],
                "contact": {"fn": "Smart Park", "hasEmail": "mailto:trace@smartpark.example.cn"},
            }
        )
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
