import dataclasses
import hashlib

import pytest
from sqlalchemy import select

from app.attachments import scanning
from app.audit.models import AuditEvent
from app.users.models import Role
from tests.attachments.helpers import ATTACHMENTS, EICAR, JPEG, PDF, PNG, answer, ask, upload
from tests.factories import make_user


def stored_files(settings):
    folder = settings.upload_dir / "attachments"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def test_a_declarant_uploads_an_invoice_stored_by_a_random_name(client, auth_headers, declarant, declaration, settings):
    response = upload(client, auth_headers(declarant), declaration.id, PDF, filename="../../etc/发票 2026.pdf")

    assert response.status_code == 201
    body = response.json
    assert (body["kind"], body["content_type"], body["size"]) == ("invoice", "application/pdf", len(PDF))
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["file_name"] == "发票 2026.pdf"
    assert body["content_url"] == f"{ATTACHMENTS}/{body['id']}"
    [stored] = [path for path in (settings.upload_dir / "attachments").iterdir() if path.read_bytes() == PDF]
    assert stored.suffix == ".pdf" and "etc" not in stored.name


@pytest.mark.parametrize(("content", "content_type"), [(JPEG, "image/jpeg"), (PNG, "image/png")])
def test_a_scan_as_an_image_is_typed_by_its_bytes_not_its_name(
    client, auth_headers, declarant, declaration, content, content_type
):
    response = upload(client, auth_headers(declarant), declaration.id, content, kind="licence", filename="licence.pdf")

    assert response.status_code == 201
    assert response.json["content_type"] == content_type
    assert response.json["file_name"].startswith("licence.pdf.")


def test_a_text_file_named_pdf_is_refused_and_not_kept(client, auth_headers, declarant, declaration, settings):
    before = stored_files(settings)

    response = upload(client, auth_headers(declarant), declaration.id, b"<html>not a pdf</html>" * 10)

    assert response.status_code == 422
    assert response.json["code"] == "unsupported_attachment"
    assert "file" in response.json["errors"]["files"]
    assert stored_files(settings) == before


def test_an_unknown_document_kind_is_a_field_error(client, auth_headers, declarant, declaration):
    response = upload(client, auth_headers(declarant), declaration.id, kind="selfie")

    assert response.status_code == 422
    assert "kind" in response.json["errors"]["query"]


def test_a_document_over_the_limit_is_refused_and_not_kept(
    app, client, auth_headers, declarant, declaration, settings, monkeypatch
):
    monkeypatch.setitem(app.extensions, "settings", dataclasses.replace(settings, attachment_max_bytes=len(PDF) - 1))
    before = stored_files(settings)

    response = upload(client, auth_headers(declarant), declaration.id, PDF)

    assert response.status_code == 413
    assert response.json["code"] == "attachment_too_large"
    assert stored_files(settings) == before


def test_everyone_who_sees_the_list_lists_and_downloads_it(
    client, session, auth_headers, declarant, operator, officer, admin, declaration
):
    document = upload(client, auth_headers(declarant), declaration.id, filename="发票.pdf").json

    for user in (declarant, operator, officer, admin):
        listed = client.get(ATTACHMENTS, query_string={"declaration_id": declaration.id}, headers=auth_headers(user))
        download = client.get(document["content_url"], headers=auth_headers(user))
        assert [item["id"] for item in listed.json] == [document["id"]]
        assert download.status_code == 200
        assert download.data == PDF
        assert download.mimetype == "application/pdf"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert "filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf" in download.headers["Content-Disposition"]
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_someone_else_finds_neither_the_list_nor_its_documents(client, auth_headers, declarant, outsider, declaration):
    document = upload(client, auth_headers(declarant), declaration.id).json
    stranger = auth_headers(outsider)

    listed = client.get(ATTACHMENTS, query_string={"declaration_id": declaration.id}, headers=stranger)
    download = client.get(document["content_url"], headers=stranger)
    uploaded = upload(client, stranger, declaration.id, JPEG)

    assert (listed.status_code, download.status_code, uploaded.status_code) == (404, 404, 404)


def test_an_export_list_takes_documents_too(client, auth_headers, declarant, operator, export_list):
    response = upload(client, auth_headers(declarant), export_list.id, kind="packing_list")

    listed = client.get(ATTACHMENTS, query_string={"declaration_id": export_list.id}, headers=auth_headers(operator))
    assert response.status_code == 201
    assert [item["kind"] for item in listed.json] == ["packing_list"]


def test_the_same_file_sent_twice_is_stored_once(client, auth_headers, declarant, declaration, settings):
    first = upload(client, auth_headers(declarant), declaration.id)
    files = stored_files(settings)

    second = upload(client, auth_headers(declarant), declaration.id)

    assert second.json["id"] == first.json["id"]
    assert stored_files(settings) == files


def test_a_retried_upload_with_its_key_is_answered_again(client, auth_headers, declarant, declaration):
    headers = auth_headers(declarant)

    first = upload(client, headers, declaration.id, JPEG, **{"Idempotency-Key": "doc-1"})
    again = upload(client, headers, declaration.id, JPEG, **{"Idempotency-Key": "doc-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json


class RefusesEicar:
    """A stand-in scanner: finds the EICAR test string, as every real one does."""

    def __init__(self):
        self.scanned = []

    def scan(self, path):
        content = path.read_bytes()
        self.scanned.append(hashlib.sha256(content).hexdigest())
        if b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in content:
            return scanning.Verdict(clean=False, threat="Eicar-Test-Signature")
        return scanning.Verdict(clean=True)


def test_the_virus_scan_sees_every_upload_and_a_refusal_is_a_clear_422(
    app, client, auth_headers, declarant, declaration, settings, monkeypatch
):
    scanner = RefusesEicar()
    monkeypatch.setitem(app.extensions, scanning.EXTENSION_KEY, scanner)
    before = stored_files(settings)

    refused = upload(client, auth_headers(declarant), declaration.id, EICAR)
    accepted = upload(client, auth_headers(declarant), declaration.id, PDF)

    assert refused.status_code == 422
    assert refused.json["code"] == "attachment_rejected"
    assert "Eicar-Test-Signature" in refused.json["errors"]["files"]["file"][0]
    assert accepted.status_code == 201
    assert scanner.scanned == [hashlib.sha256(EICAR).hexdigest(), hashlib.sha256(PDF).hexdigest()]
    assert len(stored_files(settings) - before) == 1


def test_the_uploader_deletes_a_document_and_its_file(client, session, auth_headers, declarant, declaration, settings):
    document = upload(client, auth_headers(declarant), declaration.id).json
    before = stored_files(settings)

    response = client.delete(document["content_url"], headers=auth_headers(declarant))

    listed = client.get(ATTACHMENTS, query_string={"declaration_id": declaration.id}, headers=auth_headers(declarant))
    assert response.status_code == 204
    assert listed.json == []
    assert len(before - stored_files(settings)) == 1
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "attachments")).all()
    assert sorted(actions) == ["attachment.added", "attachment.deleted"]


def test_only_the_uploader_may_delete(client, auth_headers, declarant, colleague, declaration):
    document = upload(client, auth_headers(declarant), declaration.id).json

    response = client.delete(document["content_url"], headers=auth_headers(colleague))

    assert response.status_code == 403
    assert response.json["code"] == "not_uploader"


def test_a_document_cited_in_an_answer_stays(client, auth_headers, declarant, officer, declaration):
    document = upload(client, auth_headers(declarant), declaration.id).json
    question = ask(client, auth_headers(officer), declaration.id).json
    answer(client, auth_headers(declarant), question["id"], attachment_ids=[document["id"]])

    response = client.delete(document["content_url"], headers=auth_headers(declarant))

    assert response.status_code == 409
    assert response.json["code"] == "attachment_in_use"
    assert client.get(document["content_url"], headers=auth_headers(declarant)).data == PDF


def test_a_gate_operator_may_not_upload(client, session, auth_headers, declaration):
    gate_operator = make_user(session, role=Role.GATE_OPERATOR)

    response = upload(client, auth_headers(gate_operator), declaration.id)

    assert response.status_code == 403


class Unreachable:
    def scan(self, path):
        raise scanning.ScanUnavailable("The virus scanner did not answer; try again in a minute.")


def test_an_upload_the_scanner_cannot_check_is_refused_not_kept_unscanned(
    app, client, auth_headers, declarant, declaration, settings, monkeypatch
):
    monkeypatch.setitem(app.extensions, scanning.EXTENSION_KEY, Unreachable())
    before = stored_files(settings)

    response = upload(client, auth_headers(declarant), declaration.id)

    assert response.status_code == 503
    assert response.json["code"] == "scan_unavailable"
    assert stored_files(settings) == before
