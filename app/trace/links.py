"""The links the resolver knows for a Digital Link, how it picks one for a request, and the RFC 9264 linkset.

Two levels: the product (the GTIN) and, for a trace code, the item. A request's link type is looked for from the
most specific level up to the product, as GS1's resolver standard asks; among several links of that type the
request's Accept, Accept-Language (or `lang`) and `context` choose, and links they cannot tell apart are offered
as a 300 Multiple Choices.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from werkzeug.datastructures import LanguageAccept, MIMEAccept
from werkzeug.http import parse_accept_header

from app.trace.digital_link import Target
from app.trace.issuing import code_url

GS1_VOC = "https://ref.gs1.org/voc/"
# The JSON-LD context GS1 publishes for linksets (GS1 resolver standard; GS1_DigitalLink_Resolver_CE #107).
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
# Link types this resolver can answer with, as the GS1 Web vocabulary names them.
LINK_TYPES = ("gs1:defaultLink", "gs1:pip", "gs1:traceability", "gs1:epcis", "gs1:verificationService")


@dataclass(frozen=True)
class Link:
    link_type: str  # the GS1 Web vocabulary term, e.g. "pip"
    href: str
    title: str
    media_type: str | None = None
    hreflang: tuple[str, ...] = ()
    context: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        link: dict[str, Any] = {"href": self.href, "title": self.title}
        if self.media_type:
            link["type"] = self.media_type
        if self.hreflang:
            link["hreflang"] = list(self.hreflang)
        if self.context:
            link["context"] = list(self.context)
        return link


@dataclass(frozen=True)
class Level:
    """One anchor of the linkset: the product or the item, written as the labels print it."""

    anchor: str
    links: tuple[Link, ...]


def product_page(base: str, gtin: str) -> str:
    return f"{base}/trace/products/{gtin}"


def item_page(base: str, serial: str) -> str:
    return f"{base}/trace/items/{serial}"


def _claims(target: Target) -> str:
    # An item's links carry the qualifiers its URI claims, so the page or verdict they lead to checks them too:
    # a redirect must not drop a wrong lot on the way to a "genuine".
    claims = [(name, value) for name, value in (("lot", target.lot), ("cpv", target.cpv)) if value is not None]
    return "?" + "&".join(f"{name}={quote(value, safe='')}" for name, value in claims) if claims else ""


def levels(base: str, host: str, target: Target) -> tuple[Level, ...]:
    """The levels a Digital Link has links at, most specific first: the item (for a serial), then the product."""
    product = _product_level(base, host, target.gtin)
    if target.serial is None:
        return (product,)
    return (_item_level(base, host, target), product)


# A product's links are the same for all its codes; an item's are built per request, as most lookups are of a
# code not seen before by this process.
@functools.lru_cache(maxsize=1024)
def _product_level(base: str, host: str, gtin: str) -> Level:
    page = product_page(base, gtin)
    return Level(
        anchor=_as_printed(f"HTTPS://{host.upper()}/01/{gtin}"),
        links=(
            Link("defaultLink", page, "商品信息 Product information"),
            Link("pip", page, "商品信息", "text/html", hreflang=("zh",)),
            Link("pip", f"{page}?lang=en", "Product information", "text/html", hreflang=("en",)),
            Link("pip", page, "Product information (JSON)", "application/json"),
        ),
    )


def _item_level(base: str, host: str, target: Target) -> Level:
    assert target.serial is not None
    claims = _claims(target)
    page = item_page(base, target.serial) + claims
    return Level(
        anchor=_as_printed(code_url(host, target.gtin, target.serial, target.lot)),
        links=(
            Link("defaultLink", page, "溯源查询 Trace check"),
            Link(
                "traceability",
                f"{base}/api/v1/trace/codes/{target.serial}{claims}",
                "Customs chain and verdict",
                "application/json",
            ),
            Link(
                "epcis",
                f"{base}/api/v1/trace-codes/{target.serial}/epcis",
                "EPCIS 2.0 events (staff sign-in)",
                "application/ld+json",
            ),
            Link("verificationService", page, "Check the product barcode against this code", "text/html"),
        ),
    )


def _as_printed(label_uri: str) -> str:
    """A label's URI as an anchor: host and path exactly as printed (upper case, for a small QR symbol), the scheme
    in lower case as every URI parser reads it (RFC 3986 6.2.2.1): GS1's linkset schema accepts only `https?://`,
    and a client that compares the URI it scanned with the anchors after parsing finds its own."""
    return "https" + label_uri.removeprefix("HTTPS")


def links_of_type(all_levels: tuple[Level, ...], link_type: str) -> tuple[Link, ...]:
    """The links of a type at the most specific level that has any."""
    for level in all_levels:
        found = tuple(link for link in level.links if link.link_type == link_type)
        if found:
            return found
    return ()


def linkset(all_levels: tuple[Level, ...], product: str, item: str) -> dict[str, Any]:
    """The RFC 9264 linkset of every level, product first, in GS1's model shape (`product` and `item` describe
    the levels)."""
    entries = []
    for level, description in zip(reversed(all_levels), (product, item), strict=False):
        entry: dict[str, Any] = {"anchor": level.anchor, "itemDescription": description}
        for link in level.links:
            entry.setdefault(f"{GS1_VOC}{link.link_type}", []).append(link.as_json())
        entries.append(entry)
    return {"linkset": entries}


def choices(anchor: str, links: tuple[Link, ...]) -> dict[str, Any]:
    """A 300 Multiple Choices body: the candidate links as a linkset of one anchor."""
    return {"linkset": [{"anchor": anchor, f"{GS1_VOC}{links[0].link_type}": [link.as_json() for link in links]}]}


def select(
    links: tuple[Link, ...], *, accept: str | None, language: str | None, context: str | None
) -> tuple[Link, ...]:
    """The links that fit the request best; more than one when the request cannot tell them apart.

    Each preference narrows the candidates only if some candidate meets it: a client asking for French gets the
    links there are rather than none.
    """
    chosen = links
    if len(chosen) > 1 and context:
        chosen = tuple(link for link in chosen if context in link.context) or chosen
    if len(chosen) > 1 and accept:
        chosen = _by_media_type(chosen, accept)
    if len(chosen) > 1 and language:
        chosen = _by_language(chosen, language)
    return chosen


@functools.lru_cache(maxsize=512)
def _by_media_type(links: tuple[Link, ...], accept: str) -> tuple[Link, ...]:
    parsed = parse_accept_header(accept, MIMEAccept)
    if all(value == "*/*" for value in parsed.values()):
        return links  # says nothing about what the client prefers
    quality = {link: parsed.quality(link.media_type or "*/*") for link in links}
    best = max(quality.values())
    return tuple(link for link in links if quality[link] == best) if best > 0 else links


@functools.lru_cache(maxsize=512)
def _by_language(links: tuple[Link, ...], language: str) -> tuple[Link, ...]:
    offered = sorted({tag for link in links for tag in link.hreflang})
    best = parse_accept_header(language, LanguageAccept).best_match(offered) if offered else None
    if best is None:
        return links
    return tuple(link for link in links if best in link.hreflang)
