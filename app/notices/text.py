"""Notice texts, written once in both languages."""

from __future__ import annotations

from dataclasses import dataclass

from app.users.models import Language


@dataclass(frozen=True)
class Message:
    """A notice text in both languages; each recipient reads their own."""

    zh: str
    en: str

    def in_language(self, language: Language) -> str:
        return self.en if language is Language.EN else self.zh
