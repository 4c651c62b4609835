"""Words a person reads, in Chinese and English, through Flask-Babel's message catalogues.

Source strings are English and marked where they are written: `_()` (gettext) inside a request, `_l()` (lazy) for
module- and class-level texts read later, `ngettext()` where a count changes the words. The catalogues are
`app/translations/<locale>/LC_MESSAGES/messages.po`, kept in step with the code by `scripts/i18n.py` (`extract`,
`update`); `tests/test_i18n.py` fails when a marked string has no translation. No compiled `.mo` is committed: the app
compiles the catalogues when it starts, into a directory named by their content (a few milliseconds, once per
process), so a fresh clone, a worker and a test always read what the `.po` files say.

The locale of a request: the one the console's language switch chose (`g.locale`), else its `Accept-Language`
header when it sends one (a phone sends the system's, the app the language its user chose), else the signed-in
user's language setting, else English (machine clients, scripts). Texts made outside a request for a known reader (a
notice for its recipient) use `in_locale()`.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, force_locale, gettext, lazy_gettext, ngettext
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LOCALES = ("zh", "en")
DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).with_name("translations")

_ = gettext
_l = lazy_gettext
__all__ = ["LOCALES", "N_", "N_plural", "_", "_l", "in_locale", "init_app", "ngettext", "request_locale", "text_in"]


def N_(message: str) -> str:
    """Mark `message` for the catalogues without translating it (gettext_noop): a text looked up later by its English,
    in a language chosen then (a notice for its recipient, a library's message when a problem is rendered)."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular and plural pair as N_ marks one text (`text_in` picks the form by a count)."""
    return singular, plural


def text_in(locale: str, message: str | tuple[str, str], count: int | None = None) -> str:
    """`message` (an English source text, or a `N_plural` pair and its `count`) in `locale`, from the catalogues.

    Read from the compiled catalogues directly, which are the app's own (`init_app` points Flask-Babel at the same
    directory), with or without an app context: switching the app's locale for each text (`force_locale`) was half
    the cost of a notice, and a customs document of 100 receipts renders a few hundred."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    translations = _catalogue(locale)
    return translations.gettext(message) if isinstance(message, str) else translations.ngettext(*message, count or 0)


@lru_cache(maxsize=len(LOCALES))
def _catalogue(locale: str) -> NullTranslations:
    return Translations.load(str(compiled_catalogues()), [locale])


@lru_cache(maxsize=256)
def _best(header: str) -> str | None:
    """The supported locale an Accept-Language header prefers (None if it takes neither); a phone sends a few distinct
    headers, so each is parsed once."""
    return parse_accept_header(header, LanguageAccept).best_match(LOCALES)


def request_locale() -> str:
    """The locale of the current request (see the module's docstring)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = g.get("locale")  # the console's language switch, which outranks the browser's languages
    if chosen:
        return chosen
    header = request.headers.get("Accept-Language")
    if header and (best := _best(header)):
        return best
    user = g.get("current_user")
    language = getattr(getattr(user, "language", None), "value", None)
    return language if language in LOCALES else DEFAULT_LOCALE


@contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Translate in `locale` inside the block, whatever the request asked for (a notice in its recipient's
    language)."""
    with force_locale(locale if locale in LOCALES else DEFAULT_LOCALE):
        yield


def compiled_catalogues(source: Path = TRANSLATIONS) -> Path:
    """A directory of `.mo` files compiled from the `.po` catalogues under `source`, named by their content; written
    once (atomically, so workers starting together do not read half a file) and reused while the catalogues stay the
    same."""
    catalogues = sorted(source.glob("*/LC_MESSAGES/messages.po"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in catalogues)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"smart-park-translations-{digest}"
    for po in catalogues:
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists():
            continue
        with po.open("rb") as text:
            messages = read_po(text, locale=po.parent.parent.name)
        buffer = io.BytesIO()
        write_mo(buffer, messages, use_fuzzy=False)
        mo.parent.mkdir(parents=True, exist_ok=True)
        partial = mo.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(buffer.getvalue())
        partial.replace(mo)
    return target


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=request_locale,
        default_locale=DEFAULT_LOCALE,
        default_translation_directories=str(compiled_catalogues()),
    )
