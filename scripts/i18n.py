#!/usr/bin/env python3
"""Keep the message catalogues in step with the code (Babel's extract and update, with the project's settings).

    scripts/i18n.py extract   # app/translations/messages.pot from the marked strings (babel.cfg says where)
    scripts/i18n.py update    # merge the template into each locale's messages.po (new strings get empty translations)

After marking new strings: extract, update, translate the empty msgstr entries in app/translations/zh/…/messages.po,
commit both files (tests/test_i18n.py fails on an untranslated string). The app compiles the catalogues itself when it
starts (app/i18n.py). English is the source language and needs no catalogue.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
LOCALES = ("zh",)
KEYWORDS = ("_", "_l", "N_", "N_plural:1,2", "gettext", "lazy_gettext", "ngettext:1,2", "lazy_ngettext:1,2")


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


if __name__ == "__main__":
    steps = {"extract": extract, "update": update}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(__doc__)
    steps[sys.argv[1]]()
