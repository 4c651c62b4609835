from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from tests.attachments.helpers import QUESTIONS, answer, ask, timeline, upload
from tests.factories import make_declaration


def notices_of(client, headers):
    return client.get("/api/v1/notices", query_string={"after_seq": 0}, headers=headers).json["items"]


def test_an_officer_asks_and_the_declarants_of_the_list_are_told(
    client, auth_headers, officer, declarant, colleague, outsider, declaration
):
    response = ask(client, auth_headers(officer), declaration.id, request="请补充装箱单")

    assert response.status_code == 201
    question = response.json
    assert (question["status"], question["request"], question["answers"]) == ("open", "请补充装箱单", [])
    assert (question["list_kind"], question["list_number"]) == ("import_inventory", declaration.cop_no)
    for user in (declarant, colleague):
        [notice] = [n for n in notices_of(client, auth_headers(user)) if n["kind"] == "question.asked"]
        assert notice["link"] == f"{QUESTIONS}/{question['id']}"
        assert notice["declaration_id"] == declaration.id
        assert "请补充装箱单" in notice["body"]
    assert not [n for n in notices_of(client, auth_headers(outsider)) if n["kind"] == "question.asked"]


def test_only_officers_ask(client, auth_headers, declarant, declaration):
    response = ask(client, auth_headers(declarant), declaration.id)

    assert response.status_code == 403


def test_a_deadline_in_the_past_or_too_far_is_a_field_error(client, auth_headers, officer, declaration):
    past = ask(client, auth_headers(officer), declaration.id, due_in=timedelta(minutes=-1))
    far = ask(client, auth_headers(officer), declaration.id, due_in=timedelta(days=400))

    assert (past.status_code, far.status_code) == (422, 422)
    assert "due_by" in past.json["errors"]["json"] and "due_by" in far.json["errors"]["json"]


def test_the_exchange_lands_on_the_timeline_and_the_audit_trail(
    client, session, auth_headers, officer, declarant, declaration
):
    document = upload(client, auth_headers(declarant), declaration.id).json
    question = ask(client, auth_headers(officer), declaration.id).json

    answered = answer(client, auth_headers(declarant), question["id"], attachment_ids=[document["id"]])
    closed = client.post(
        f"{QUESTIONS}/{question['id']}/close", json={"note": "资料齐全"}, headers=auth_headers(officer)
    )

    assert answered.status_code == 201
    [reply] = answered.json["answers"]
    assert (answered.json["status"], reply["attachment_ids"]) == ("answered", [document["id"]])
    assert closed.status_code == 200
    assert (closed.json["status"], closed.json["closing_note"]) == ("closed", "资料齐全")
    steps = [event["step"] for event in timeline(client, auth_headers(declarant), declaration.id)]
    assert steps[-3:] == ["question_asked", "question_answered", "question_closed"]
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_type == "list_questions").order_by(AuditEvent.id)
    ).all()
    assert actions == ["question.asked", "question.answered", "question.closed"]


def test_an_export_lists_exchange_is_on_its_timeline(client, auth_headers, officer, declarant, export_list):
    question = ask(client, auth_headers(officer), export_list.id).json

    events = client.get(f"/api/v1/export-lists/{export_list.id}/timeline", headers=auth_headers(declarant)).json
    assert question["list_kind"] == "export_inventory"
    assert events["events"][-1]["step"] == "question_asked"


def test_an_answer_may_cite_only_documents_of_the_same_list(
    client, session, auth_headers, officer, declarant, declaration
):
    other = make_declaration(session, declarant=declarant)
    elsewhere = upload(client, auth_headers(declarant), other.id).json
    question = ask(client, auth_headers(officer), declaration.id).json

    response = answer(client, auth_headers(declarant), question["id"], attachment_ids=[elsewhere["id"]])

    assert response.status_code == 422
    assert "attachment_ids" in response.json["errors"]["json"]


def test_a_question_is_answered_again_until_it_is_closed(client, auth_headers, officer, declarant, declaration):
    question = ask(client, auth_headers(officer), declaration.id).json
    answer(client, auth_headers(declarant), question["id"], text="第一次答复")

    again = answer(client, auth_headers(declarant), question["id"], text="补充说明")
    client.post(f"{QUESTIONS}/{question['id']}/close", json={}, headers=auth_headers(officer))
    after_close = answer(client, auth_headers(declarant), question["id"], text="迟到的答复")
    closed_twice = client.post(f"{QUESTIONS}/{question['id']}/close", json={}, headers=auth_headers(officer))

    assert [reply["text"] for reply in again.json["answers"]] == ["第一次答复", "补充说明"]
    assert (after_close.status_code, closed_twice.status_code) == (409, 409)


def test_the_warehouse_reads_questions_but_only_declarants_answer(
    client, auth_headers, officer, operator, outsider, declaration
):
    question = ask(client, auth_headers(officer), declaration.id).json

    read = client.get(f"{QUESTIONS}/{question['id']}", headers=auth_headers(operator))
    by_operator = answer(client, auth_headers(operator), question["id"])
    by_outsider = answer(client, auth_headers(outsider), question["id"])

    assert read.status_code == 200
    assert (by_operator.status_code, by_outsider.status_code) == (403, 404)
    assert client.get(f"{QUESTIONS}/{question['id']}", headers=auth_headers(outsider)).status_code == 404


def test_a_lists_questions_newest_first(client, auth_headers, officer, declarant, operator, outsider, declaration):
    first = ask(client, auth_headers(officer), declaration.id, request="一").json
    second = ask(client, auth_headers(officer), declaration.id, request="二").json

    for user in (declarant, operator, officer):
        page = client.get(QUESTIONS, query_string={"declaration_id": declaration.id}, headers=auth_headers(user)).json
        assert [item["id"] for item in page["items"]] == [second["id"], first["id"]]
    hidden = client.get(QUESTIONS, query_string={"declaration_id": declaration.id}, headers=auth_headers(outsider))
    assert hidden.status_code == 404
    assert client.get(QUESTIONS, headers=auth_headers(outsider)).json["items"] == []


def test_waiting_on_me_is_a_declarants_open_questions_and_an_officers_answered_ones(
    client, session, auth_headers, officer, declarant, declaration
):
    open_one = ask(client, auth_headers(officer), declaration.id).json
    answered_one = ask(client, auth_headers(officer), declaration.id).json
    answer(client, auth_headers(declarant), answered_one["id"])

    mine = client.get("/api/v1/me/questions", headers=auth_headers(declarant)).json
    officers = client.get("/api/v1/me/questions", headers=auth_headers(officer)).json

    assert [item["id"] for item in mine["items"]] == [open_one["id"]]
    assert [item["id"] for item in officers["items"]] == [answered_one["id"]]
