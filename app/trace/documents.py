"""What a lookup looks like on the wire: the verdict and product documents (links.py writes the linkset)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.goods.models import Product
from app.trace.lookup import Lookup, ProductFacts


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
    """The consumer's view of a code: no buyer, no officer, no personal data of any kind.

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
        "chain": [
            {
                "step": step.step,
                "biz_step": step.biz_step,
                "disposition": step.disposition,
                "at": when(step.at),
                "title": step.title_en if lang == "en" else step.title_zh,
            }
            for step in lookup.chain
        ],
        "scans": {"count": lookup.scans.count, "first_at": when(lookup.scans.first_at)},
    }
