"""Templates compiled with their fixed texts translated (app/infra/translated_templates.py): the same output as the
calls gave, for the trace page in both languages and for each form of call."""

from __future__ import annotations

import pytest
from flask import render_template
from jinja2 import DictLoader, Environment
from markupsafe import Markup

from app.infra import translated_templates

CATALOGUE = {"Hello": "你好", "Rate": "100% 正品", "Tom & Jerry": "汤姆 & 杰瑞", "Hi %(name)s": "嗨 %(name)s"}


def translate(message: str, **variables: object) -> Markup:
    text = Markup(CATALOGUE.get(message, message))
    return text % variables if "%" in text and variables else text


def environment(templates: dict[str, str]) -> Environment:
    env = Environment(loader=DictLoader(templates), autoescape=True)
    translated_templates.install(env, lambda lang: translate, ("zh",))
    return env


@pytest.mark.parametrize(
    "source",
    [
        "<p>{{ _('Hello') }}</p>",
        "{% set word = _('Tom & Jerry') %}<b>{{ word }}</b>{{ word|length }}",
        "{{ _('Hi %(name)s', name=who) }}",
        "{{ _('Rate') if who else _('Hello') }}",
        "{{- _('Hello') -}} {{ _(\"Tom & Jerry\") }}",
        "{{ _('Unknown to the catalogue') }} {{ who }}",
    ],
)
def test_the_translated_template_renders_as_the_calls_did(source):
    env = environment({"page.html": source})

    expected = env.get_template("page.html").render(_=translate, who="<Jerry>")

    assert env.get_template("zh:page.html").render(_=translate, who="<Jerry>") == expected


def test_a_fixed_text_becomes_template_text_and_one_with_a_percent_stays_a_call():
    env = environment({"page.html": "{{ _('Hello') }}|{{ _('Rate') }}"})
    calls = []

    def counted(message: str, **variables: object) -> Markup:
        calls.append(message)
        return translate(message, **variables)

    assert env.get_template("zh:page.html").render(_=counted) == "你好|100% 正品"
    assert calls == ["Rate"]


def test_a_template_extends_its_parent_in_the_same_language():
    env = environment(
        {
            "base.html": "[{{ _('Hello') }}]{% block body %}{% endblock %}",
            "page.html": '{% extends "base.html" %}{% block body %}{{ _("Tom & Jerry") }}{% endblock %}',
        }
    )

    assert env.get_template("zh:page.html").render(_=translate) == "[你好]汤姆 & 杰瑞"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("verdict", ["genuine", "not_released", "gtin_mismatch", "recalled", "unknown", "invalid"])
def test_the_trace_page_is_the_same_compiled_either_way(app, lang, verdict):
    from app.trace import page

    document = {
        "verdict": verdict,
        "gtin": "04006381333931",
        "serial": "ABCDEFGHJKMNPQRS",
        "product": {"name": "奶粉 <800g>", "brand": "Milupa & Co", "specification": None, "origin_country": "DE"},
        "trader": "某 & 贸易",
        "warehouse": "一号仓",
        "declaration": {"number": None},
        "scans": {"count": 3, "first_at": None},
    }
    with app.test_request_context("/01/04006381333931/21/ABCDEFGHJKMNPQRS?lang=en"):
        context = {
            "lang": lang,
            "document": None if verdict in ("unknown", "invalid") else document,
            "error": "bad <barcode>" if verdict == "invalid" else None,
            "barcode": "0400&",
            "serial": "ABCDEFGHJKMNPQRS",
            "report_token": "token" if verdict != "genuine" else None,
            "scanned_product": None,
            "chain_items": Markup("<li>步骤</li>"),
            **page.park(),
            **page.words(lang),
        }
        plain = render_template("trace/code.html", **context)
        translated = render_template(f"{lang}:trace/code.html", **context)

    assert translated == plain
