"""Templates whose fixed texts are translated when they are compiled, once per language and process.

A page's `{{ _('Genuine') }}` is a call at every render: Jinja's `context.call` (which asks the callable whether it
wants the context, the environment or the eval context), the catalogue's lookup, a Markup, then the escape of the
output; a shopper's trace page makes about thirty of them. Here the template `"<lang>:<name>"` is `<name>` compiled
with each `_('literal')` call (a string and nothing else) replaced by its translation in `<lang>`, as the very
function the page passes as `_` gives it: as template data where the call is all of an `{{ }}`, and as
`('text'|safe)` elsewhere (a `{% set %}`), both Markup as the call's result was. Templates it extends, includes or
imports are asked for in the same language. Measured on the trace page (zh, six chain steps, callgrind, one code's
page rendered in-process, 2026-12-07): 1,552,974 instructions before, 957,452 after.

What it gives up: a call whose translation holds a `%` is left a call (the page's `_` fills variables by `%`), and
so is any call with variables or a non-literal argument; `ngettext` and `{% trans %}` blocks are untouched. The
catalogue is read when the template is compiled, so a catalogue changed under a running process would show on its
pages only after a restart (the page's `_` already keeps each text per process, app/trace/page.py). pybabel reads
the templates' unchanged sources, so extraction is as before. A template asked for by its plain name renders as
before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import BaseLoader, Environment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

# What translates a literal in a template of one language (the `_` the template is rendered with).
Translate = Callable[[str], str]
# The statements that load a template by name: {% extends "trace/_base.html" %} and the like.
LOADS_BY_NAME = ("name:extends", "name:include", "name:import", "name:from")


def name_in(lang: str, name: str) -> str:
    """The template `name` compiled with its fixed texts in `lang`."""
    return f"{lang}:{name}"


def install(environment: Environment, translator: Callable[[str], Translate], languages: tuple[str, ...]) -> None:
    """Serve `"<lang>:<name>"` for each of `languages` from `environment`'s loader, translated by
    `translator(lang)` (the `_` the templates are rendered with) as they compile."""
    environment.loader = _Loader(environment.loader, languages)
    environment.add_extension(_Literals)
    environment.extend(literal_translator=translator, literal_languages=languages)


class _Loader(BaseLoader):
    """`"<lang>:<name>"` is `<name>`'s source (the extension translates it); other names as the loader serves them."""

    def __init__(self, loader: BaseLoader | None, languages: tuple[str, ...]) -> None:
        self.loader = loader
        self.languages = languages

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        assert self.loader is not None
        lang, colon, name = template.partition(":")
        return self.loader.get_source(environment, name if colon and lang in self.languages else template)

    def list_templates(self) -> list[str]:
        return self.loader.list_templates() if self.loader is not None else []


class _Literals(Extension):
    def filter_stream(self, stream: TokenStream) -> TokenStream | Iterator[Token]:
        lang, colon, _name = (stream.name or "").partition(":")
        environment: Any = self.environment
        if not colon or lang not in environment.literal_languages:
            return stream
        return _translated(list(stream), lang, environment.literal_translator(lang))


def _translated(tokens: list[Token], lang: str, translate: Translate) -> Iterator[Token]:
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "variable_begin":
            text = _literal_call(tokens, index + 1, translate)
            if text is not None and index + 5 < len(tokens) and tokens[index + 5].type == "variable_end":
                # {{ _('text') }}: the text itself, written out as the template's own text is.
                yield Token(token.lineno, "data", text)
                index += 6
                continue
        text = _literal_call(tokens, index, translate)
        if text is not None:  # elsewhere (a {% set %}): Markup, as the call's result was
            yield from (
                Token(token.lineno, kind, value)
                for kind, value in (("lparen", "("), ("string", text), ("pipe", "|"), ("name", "safe"), ("rparen", ")"))
            )
            index += 4
            continue
        if token.type == "string" and index and tokens[index - 1].test_any(*LOADS_BY_NAME):
            token = Token(token.lineno, "string", name_in(lang, token.value))
        yield token
        index += 1


def _literal_call(tokens: list[Token], index: int, translate: Translate) -> str | None:
    """The translation of `_('literal')` starting at `index` (None if no such call is there, or its text has a %)."""
    if index + 3 >= len(tokens) or (index and tokens[index - 1].type == "dot"):
        return None
    name, lparen, literal, rparen = tokens[index : index + 4]
    if not (
        name.type == "name"
        and name.value == "_"
        and lparen.type == "lparen"
        and literal.type == "string"
        and rparen.type == "rparen"
    ):
        return None
    text = str(translate(literal.value))
    return None if "%" in text else text
