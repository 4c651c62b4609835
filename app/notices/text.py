"""Notice texts: English source strings from the message catalogues, rendered in each recipient's language.

`Message(N_("Parcel %(no)s diverted for recheck"), no=waybill_no)` is one text in both languages: the English is the
catalogue's key, the Chinese lives in app/translations/zh/…/messages.po, and each recipient reads the language they
chose (not the language of the request that caused the notice). A value that is itself a Message (a disposal, a
reason) is filled in with its own text in the same language; other values (numbers, plates, what someone typed) as
they are. `N_plural(...)` and a `num=` value pick the plural form. A text the catalogue does not know (a layout such
as "%(a)s%(b)s") reads the same in every language.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import get_locale

from app.i18n import DEFAULT_LOCALE, N_, text_in
from app.users.models import Language


class Message:
    """A notice text in both languages; each recipient reads their own."""

    __slots__ = ("rendered", "text", "values")

    def __init__(self, text: str | tuple[str, str], /, **values: Any) -> None:
        self.text = text
        self.values = values
        self.rendered: dict[str, str] = {}  # by locale: a batch's recipients share a few texts

    def render(self, locale: str) -> str:
        """The text in `locale` ("zh" or "en")."""
        if (done := self.rendered.get(locale)) is None:
            done = self.rendered[locale] = self._render(locale)
        return done

    def _render(self, locale: str) -> str:
        template = text_in(locale, self.text, self.values.get("num"))
        if not self.values:
            return template
        values = {
            name: value.render(locale) if isinstance(value, Message) else value for name, value in self.values.items()
        }
        return template % values

    @property
    def zh(self) -> str:
        return self.render("zh")

    @property
    def en(self) -> str:
        return self.render("en")

    def in_language(self, language: Language) -> str:
        return self.render(language.value)

    def __str__(self) -> str:
        """The text in the current request's language (a label inside an error's detail)."""
        return self.render(str(get_locale() or DEFAULT_LOCALE))

    def __add__(self, other: Message) -> Message:
        return Message("%(a)s%(b)s", a=self, b=other)

    def join(self, parts: Iterable[Message]) -> Message:
        """`parts` with this text between them (a list separator: "; " in English, "；" in Chinese)."""
        parts = list(parts)
        names = [f"p{index}" for index in range(len(parts))]
        return Message(
            "%(separator)s".join(f"%({name})s" for name in names),
            separator=self,
            **dict(zip(names, parts, strict=True)),
        )

    def __repr__(self) -> str:
        return f"Message({self.text!r}, {self.values!r})"


def with_notes(body: Message, notes: str | None) -> Message:
    """`body` followed by an officer's notes, when there are any."""
    if not notes:
        return body
    return body + Message(" ") + Message(N_("Notes: %(notes)s"), notes=notes)
