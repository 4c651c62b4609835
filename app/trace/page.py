"""What the shopper's trace page shows beside the verdict: the park's contact, country names, the report form's token,
and, on a barcode mismatch, what the scanned barcode belongs to."""

from __future__ import annotations

import functools
from typing import Any

from babel import Locale
from flask_babel import get_translations
from markupsafe import Markup

from app import db
from app.common.fields import normalize_gtin
from app.config import current_settings
from app.goods import service as goods
from app.i18n import in_locale
from app.infra.context import the_app
from app.trace import documents, reports
from app.trace.lookup import Lookup, Verdict


@functools.lru_cache(maxsize=8)
def _territories(lang: str) -> dict[str, str]:
    return dict(Locale.parse("zh_Hans_CN" if lang == "zh" else "en").territories)


def country_name(code: str | None, lang: str) -> str:
    """A country's name in the page's language (德国 / Germany) from its ISO 3166 code, as Babel's locale data names
    it; an unknown code shows as it is."""
    if not code:
        return "—"
    return _territories(lang).get(code.upper(), code)


@functools.lru_cache(maxsize=4)
def words(lang: str) -> dict[str, Any]:
    """The page's `_`, `gettext` and `ngettext` in `lang`, bound to its catalogue (pass them to render_template).

    Flask-Babel's own find the request's locale and catalogue again for every string: 32 strings took 60% of the
    page's rendering. These look the catalogue up once per process; the semantics are Jinja's new-style gettext
    (variables by name), for the trace pages' autoescaped (.html) templates only: the text is always Markup, whose
    % escapes the variables. They take no template context (Jinja's own `_` and new-style gettext do, to ask
    whether the template autoescapes): a context function called inside a block that has set a variable gets a
    copy of the context made for the call, 29 copies a code page (a fifth of its rendering)."""
    with in_locale(lang):
        catalogue = get_translations()
    # Each message's text once as Markup, and whether it has a % to fill (Markup's % costs 4,000 instructions).
    texts: dict[str, tuple[Markup, bool]] = {}

    def gettext(message: str, **variables: Any) -> str:
        found = texts.get(message)
        if found is None:
            text = Markup(catalogue.gettext(message))  # noqa: S704 (our catalogue's text)
            found = texts[message] = (text, "%" in text)
        text, formatted = found
        return text % variables if formatted else text

    def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return Markup(catalogue.ngettext(singular, plural, num)) % variables  # noqa: S704 (our catalogue's text)

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


# The chain's <li> items per chain document, while the document is the one documents.py keeps for a declaration's
# timeline state and language (`Lookup.shared_chain`): every code of the declaration shows the same steps, and a new
# step makes a new chain, so a new entry. The entry holds its document, so its id is not reused while it is here.
# Bounded, emptied when full. Rendering the steps took 130,000 instructions of a page (zh, six steps, 2026-12-07).
_CHAIN_ITEMS: dict[int, tuple[list[dict[str, Any]], Markup]] = {}
CHAIN_ITEMS_CACHE_SIZE = 10_000


def chain_items(chain: list[dict[str, Any]], *, shared: bool) -> Markup:
    """The chain's steps as the page lists them (trace/_chain.html); kept with a `shared` chain document."""
    found = _CHAIN_ITEMS.get(id(chain)) if shared else None
    if found is not None and found[0] is chain:
        return found[1]
    items = Markup(the_app().jinja_env.get_template("trace/_chain.html").render(chain=chain))  # noqa: S704 (autoescaped)
    if shared:
        if len(_CHAIN_ITEMS) >= CHAIN_ITEMS_CACHE_SIZE:
            _CHAIN_ITEMS.clear()
        _CHAIN_ITEMS[id(chain)] = (chain, items)
    return items


def park() -> dict[str, Any]:
    """Whom a shopper in doubt may ask: the park and the customs hotline, from configuration."""
    settings = current_settings()
    return {
        "park": {
            "name": settings.park_name,
            "phone": settings.park_phone,
            "address": settings.park_address,
            "hotline": settings.customs_hotline,
        }
    }


def report_token(serial: str) -> str | None:
    """The token the page's report form carries (None without a signing key, and then no form)."""
    secret = current_settings().jwt_secret
    return reports.issue_token(secret, serial) if secret and serial else None


def page_facts(lookup: Lookup | None, *, serial: str, barcode: str | None, lang: str) -> dict[str, Any]:
    """The code page's facts beyond the verdict document. Only a mismatch reads more (the scanned barcode's product):
    a genuine code's page costs no query here."""
    scanned = None
    if lookup is not None and lookup.verdict is Verdict.GTIN_MISMATCH and barcode:
        with db.transaction() as session:
            product = goods.find_product_by_gtin(session, normalize_gtin(barcode))
            scanned = documents.product_document(product, lang)
    return {"serial": serial, "report_token": report_token(serial), "scanned_product": scanned}
