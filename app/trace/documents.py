"""What a lookup looks like on the wire: the verdict document and the RFC 9264 linkset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel.speaklater import LazyString

from app.goods.models import Product
from app.i18n import in_locale
from app.trace.lookup import Lookup, ProductFacts

GS1_VOC = "https://ref.gs1.org/voc/"
# Link types this resolver can answer with, as the GS1 Web vocabulary names them.
LINK_TYPES = ("gs1:defaultLink", "gs1:pip", "gs1:traceability", "gs1:epcis", "gs1:verificationService")


def item_links(base: str, serial: str) -> dict[str, str]:
    """Where an item's link types point: the public verdict and chain, and the EPCIS export (staff sign-in)."""
    return {
        "traceability": f"{base}/api/v1/trace/codes/{serial}",
        "epcis": f"{base}/api/v1/trace-codes/{serial}/epcis",
    }


def product_document(product: Product | ProductFacts | None, lang: str) -> dict[str, Any] | None:
    if product is None:
        return None
    return {
        "gtin": product.gtin,
        "name": (product.name_en or product.name_zh) if lang == "en" else product.name_zh,
        "name_zh": product.name_zh,
        "name_en": product.name_en,
        "brand": product.brand,
        "specification": product.specification,
        "origin_country": product.origin_country,
    }


def verdict_document(lookup: Lookup, lang: str, *, as_json: bool = False) -> dict[str, Any]:
    """The consumer's view of a code: no buyer, no officer, no personal data of any kind. Step titles are in the
    current locale: call it under `in_locale(lang)`.

    `as_json` writes times as ISO 8601 text, as the API's schemas do (the page formats datetimes itself).
    """
    declaration = lookup.declaration

    def when(moment: datetime | None) -> datetime | str | None:
        return moment.isoformat() if as_json and moment is not None else moment

    return {
        "verdict": lookup.verdict.value,
        "gtin": lookup.code.gtin,
        "serial": lookup.code.serial,
        "lot": lookup.code.lot,
        "status": lookup.code.status.value,
        "product": product_document(lookup.product, lang),
        "trader": declaration.trader,
        "warehouse": declaration.warehouse,
        "declaration": {"number": declaration.number, "status": declaration.status.value},
        "chain": _chain(lookup, lang, when),
        "scans": {"count": lookup.scans.count, "first_at": when(lookup.scans.first_at)},
    }


# Step titles by language: a score of module-level lazy strings, each translated once per process. Switching the
# locale for every lookup (flask_babel.force_locale, then a catalogue fetch) would cost each JSON lookup for nothing.
_TITLES: dict[tuple[str, int], str] = {}


def _title(title: LazyString, lang: str) -> str:
    key = (lang, id(title))  # the labels are module-level constants, so their ids are stable
    text = _TITLES.get(key)
    if text is None:
        with in_locale(lang):
            text = _TITLES[key] = str(title)
    return text


def _chain(lookup: Lookup, lang: str, when: Callable[[datetime | None], Any]) -> list[dict[str, Any]]:
    return [
        {
            "step": step.step,
            "biz_step": step.biz_step,
            "disposition": step.disposition,
            "at": when(step.at),
            "title": _title(step.title, lang),
        }
        for step in lookup.chain
    ]


def _link(href: str, title: str, media_type: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, "title": title, "type": media_type, **extra}


def linkset(*, base: str, gtin: str, serial: str | None, lot: str | None, name: str) -> dict[str, Any]:
    """Links for the product (the GTIN, named `name`) and, for a trace code, for the item: each level up to the
    primary key."""
    product_uri = f"{base}/01/{gtin}"
    entries: list[dict[str, Any]] = [
        {
            "anchor": product_uri,
            "itemDescription": name,
            f"{GS1_VOC}defaultLink": [_link(product_uri, f"{name} 商品信息", "text/html")],
            f"{GS1_VOC}pip": [
                _link(product_uri, f"{name} 商品信息", "text/html", hreflang=["zh"]),
                _link(f"{product_uri}?lang=en", "Product information", "text/html", hreflang=["en"]),
            ],
        }
    ]
    if serial is not None:
        item_uri = f"{base}/01/{gtin}{f'/10/{lot}' if lot else ''}/21/{serial}"
        entries.append(
            {
                "anchor": item_uri,
                "itemDescription": f"{name}, 溯源码 {serial}",
                f"{GS1_VOC}defaultLink": [_link(item_uri, "溯源查询 Trace check", "text/html")],
                f"{GS1_VOC}traceability": [
                    _link(item_links(base, serial)["traceability"], "Customs chain and verdict", "application/json")
                ],
                f"{GS1_VOC}epcis": [
                    _link(item_links(base, serial)["epcis"], "EPCIS 2.0 events (staff sign-in)", "application/ld+json")
                ],
                f"{GS1_VOC}verificationService": [
                    _link(
                        f"{base}/api/v1/trace/verify", "Check the product barcode against this code", "application/json"
                    )
                ],
            }
        )
    return {"linkset": entries}
