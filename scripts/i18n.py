#!/usr/bin/env python3
"""Keep the message catalogues in step with the code (Babel's extract/update/compile, with the project's settings).

    scripts/i18n.py extract   # app/translations/messages.pot from the marked strings (babel.cfg says where)
    scripts/i18n.py update    # merge the template into each locale's messages.po (new strings get empty translations)
    scripts/i18n.py compile   # messages.po -> messages.mo for each locale (committed; tests/test_i18n.py checks both)

After marking new strings: extract, update, translate the empty msgstr entries in app/translations/zh/…/messages.po,
compile, commit all three. English is the source language and needs no catalogue.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
LOCALES = ("zh",)
KEYWORDS = ("_", "_l", "gettext", "lazy_gettext", "ngettext:1,2", "lazy_ngettext:1,2")


def catalogue(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def extract(output: Path = TEMPLATE) -> None:
    """Paths relative to the project (no locations: line numbers would change the catalogues with every edit), sorted
    by message so that branches adding strings rarely touch the same lines."""
    os.chdir(ROOT)
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--no-default-keywords", *keywords,
         "--omit-header", "--no-location", "--sort-output", "-o", str(output), "app"]
    )  # fmt: skip


def update() -> None:
    for locale in LOCALES:
        command = "update" if catalogue(locale).exists() else "init"
        CommandLineInterface().run(
            ["pybabel", "-q", command, "-i", str(TEMPLATE), "-d", str(TRANSLATIONS), "-l", locale, "--no-wrap"]
            + (["--ignore-obsolete", "--no-fuzzy-matching"] if command == "update" else [])
        )


def compiled(locale: str) -> bytes:
    """The .mo bytes of a locale's catalogue, fuzzy entries left out (the test compares them with the committed .mo)."""
    with catalogue(locale).open("rb") as source:
        messages = read_po(source, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, messages, use_fuzzy=False)
    return buffer.getvalue()


def compile_all() -> None:
    for locale in LOCALES:
        catalogue(locale).with_suffix(".mo").write_bytes(compiled(locale))


if __name__ == "__main__":
    steps = {"extract": extract, "update": update, "compile": compile_all}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(__doc__)
    steps[sys.argv[1]]()
