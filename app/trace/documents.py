"""What a lookup looks like on the wire: the verdict and product documents (links.py writes the linkset)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel.speaklater import LazyString

from app.goods.models import Product
from app.i18n import in_locale
from app.trace.lookup import Lookup, ProductFacts

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
    """The consumer's view of a code: no buyer, no officer, no personal data of any kind. Step titles are in
    `lang`.

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
        "chain": _chain(lookup, lang, as_json, when),
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


# Chains as documents show them, per cached step list (lookup.py keeps one per declaration and timeline state),
# language and form: a JSON lookup wrote each step's time as ISO 8601 text again (11,000 instructions a time, five
# steps a lookup) and built the same dicts. The entry holds its step list, so its id is not reused while it is
# here; the documents share the list, which nothing changes (it is encoded or rendered). Bounded, emptied when full.
_CHAINS: dict[tuple[int, str, bool], tuple[list[Any], list[dict[str, Any]]]] = {}
CHAINS_CACHE_SIZE = 10_000


def _chain(lookup: Lookup, lang: str, as_json: bool, when: Callable[[datetime | None], Any]) -> list[dict[str, Any]]:
    if not lookup.shared_chain:
        return _chain_document(lookup.chain, lang, as_json, when)
    key = (id(lookup.chain), lang, as_json)
    found = _CHAINS.get(key)
    if found is not None and found[0] is lookup.chain:
        return found[1]
    if len(_CHAINS) >= CHAINS_CACHE_SIZE:
        _CHAINS.clear()
    document = _chain_document(lookup.chain, lang, as_json, when)
    _CHAINS[key] = (lookup.chain, document)
    return document


def _chain_document(
    chain: list[Any], lang: str, as_json: bool, when: Callable[[datetime | None], Any]
) -> list[dict[str, Any]]:
    steps = [
        {
            "step": step.step,
            "biz_step": step.biz_step,
            "disposition": step.disposition,
            "at": when(step.at),
            "title": _title(step.title, lang),
        }
        for step in chain
    ]
    if not as_json:  # the page's form: each step's time as its <time> element shows it, written once with the chain
        for document, step in zip(steps, chain, strict=True):
            document["datetime"], document["local"] = step.at.isoformat(), local_time(step.at)
    return steps


def local_time(moment: datetime) -> str:
    """A time as people in the park read it."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
