"""The resolver's problems speak the client's language, as every API error does."""

from __future__ import annotations


def test_a_bad_digital_link_is_explained_in_chinese_to_a_chinese_client(client) -> None:
    answer = client.get(
        "/01/09506000134352/21/ABC?12345=x", headers={"Accept": "application/json", "Accept-Language": "zh-CN,zh;q=0.9"}
    )
    assert answer.status_code == 400
    body = answer.get_json()
    assert (body["code"], body["title"]) == ("bad_digital_link", "无效的 GS1 数字链接地址")
    assert body["detail"] == "?12345= 不是 GS1 应用标识符。"


def test_an_unknown_code_is_explained_in_each_language(client) -> None:
    path = "/api/v1/trace/codes/ZZZZZZZZZZZZZZZZ"
    chinese = client.get(path, headers={"Accept-Language": "zh-CN"}).get_json()
    english = client.get(path, headers={"Accept-Language": "en"}).get_json()
    assert chinese["code"] == english["code"] == "unknown_trace_code"
    assert (chinese["title"], english["title"]) == ("未知溯源码", "Unknown trace code")
    assert "本园区未签发溯源码 ZZZZZZZZZZZZZZZZ" in chinese["detail"]
    assert english["detail"].startswith("No trace code ZZZZZZZZZZZZZZZZ was issued")
