"""Words a person reads come from the message catalogues, every one translated, in the language the client asks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
i18n_script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(i18n_script)


def first(message_id: str | tuple[str, ...]) -> str:
    """A message's id (a plural's singular form)."""
    return message_id if isinstance(message_id, str) else message_id[0]


def done(translation: str | tuple[str, ...]) -> bool:
    return all(translation if isinstance(translation, tuple) else [translation])


def test_every_marked_string_has_a_chinese_translation(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    i18n_script.extract(template)
    with template.open("rb") as source:
        marked = {message.id for message in read_po(source) if message.id}
    with i18n_script.catalogue("zh").open("rb") as source:
        catalogue = read_po(source, locale="zh")
    translated = {first(entry.id) for entry in catalogue if entry.id and not entry.fuzzy and done(entry.string)}
    marked = {first(message) for message in marked}
    missing = sorted(marked - translated)
    assert not missing, f"untranslated (scripts/i18n.py extract, update, translate, compile): {missing[:20]}"


@pytest.mark.parametrize(
    ("accept_language", "title", "detail"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "未找到", "此地址没有资源。"),
        ("en-GB,en;q=0.9", "Not Found", "No resource at this address."),
        (None, "Not Found", "No resource at this address."),
        ("fr-FR", "Not Found", "No resource at this address."),
    ],
)
def test_a_problem_speaks_the_clients_language(client, accept_language, title, detail) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get("/api/v1/no-such-thing", headers=headers)
    assert response.status_code == 404
    body = response.get_json()
    assert (body["title"], body["detail"], body["code"]) == (title, detail, "not_found")


def test_without_accept_language_a_user_reads_their_own_language(client, declarant, auth_headers, session) -> None:
    from app.users.models import Language

    declarant.language = Language.ZH
    session.flush()
    response = client.get("/api/v1/declarations/999999999", headers=auth_headers(declarant, accept_language=None))
    assert response.status_code == 404
    assert response.get_json()["title"] == "未找到"
