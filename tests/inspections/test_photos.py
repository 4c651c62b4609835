import dataclasses
import hashlib

from tests.inspections.helpers import JPEG, PNG, TASKS, upload


def test_an_officer_uploads_a_jpeg_stored_by_a_random_name_under_the_upload_folder(
    client, auth_headers, in_progress, officer, settings
):
    folder = settings.upload_dir / "inspections"
    before = set(folder.iterdir()) if folder.exists() else set()  # other tests' photos stay on disk
    response = upload(client, auth_headers(officer), in_progress.id, JPEG, filename="../../etc/passwd.jpg")

    assert response.status_code == 201
    body = response.json
    assert (body["content_type"], body["size"]) == ("image/jpeg", len(JPEG))
    assert body["sha256"] == hashlib.sha256(JPEG).hexdigest()
    [stored] = [path for path in set(folder.iterdir()) - before if path.read_bytes() == JPEG]
    assert "passwd" not in stored.name and stored.suffix == ".jpg"


def test_the_declarant_and_the_warehouse_download_the_photo(
    client, auth_headers, in_progress, officer, declarant, operator
):
    photo = upload(client, auth_headers(officer), in_progress.id, JPEG).json

    for user in (declarant, operator):
        listed = client.get(f"{TASKS}/{in_progress.id}/photos", headers=auth_headers(user))
        download = client.get(f"{TASKS}/{in_progress.id}/photos/{photo['id']}", headers=auth_headers(user))
        assert [item["id"] for item in listed.json] == [photo["id"]]
        assert download.status_code == 200
        assert download.mimetype == "image/jpeg"
        assert download.data == JPEG
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_a_png_is_accepted(client, auth_headers, in_progress, officer):
    response = upload(client, auth_headers(officer), in_progress.id, PNG, filename="scan.png", content_type="image/png")

    assert response.status_code == 201
    assert response.json["content_type"] == "image/png"


def test_a_text_file_named_jpg_is_refused(client, auth_headers, in_progress, officer):
    response = upload(client, auth_headers(officer), in_progress.id, b"just some text, honestly" * 10)

    assert response.status_code == 422
    assert response.json["code"] == "unsupported_photo"
    assert "photo" in response.json["errors"]["files"]


def test_a_missing_photo_field_is_a_field_error(client, auth_headers, in_progress, officer):
    response = client.post(
        f"{TASKS}/{in_progress.id}/photos",
        data={"picture": "nothing"},
        headers=auth_headers(officer),
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "photo" in response.json["errors"]["files"]


def test_a_photo_over_the_limit_is_refused_and_not_kept(
    app, client, auth_headers, in_progress, officer, settings, monkeypatch
):
    monkeypatch.setitem(app.extensions, "settings", dataclasses.replace(settings, photo_max_bytes=len(JPEG) - 1))
    before = (
        set((settings.upload_dir / "inspections").glob("*"))
        if (settings.upload_dir / "inspections").exists()
        else set()
    )

    response = upload(client, auth_headers(officer), in_progress.id, JPEG)

    assert response.status_code == 413
    assert response.json["code"] == "photo_too_large"
    assert set((settings.upload_dir / "inspections").glob("*")) == before


def test_a_body_far_over_the_photo_limit_is_refused_before_it_is_read(
    app, client, auth_headers, in_progress, officer, settings, monkeypatch
):
    monkeypatch.setitem(app.extensions, "settings", dataclasses.replace(settings, photo_max_bytes=1024))

    response = upload(client, auth_headers(officer), in_progress.id, JPEG + b"\x00" * (200 * 1024))

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_photo_larger_than_the_json_body_limit_is_accepted(client, auth_headers, in_progress, officer, app):
    big = JPEG + b"\x00" * (2 * app.config["MAX_CONTENT_LENGTH"])

    response = upload(client, auth_headers(officer), in_progress.id, big)

    assert response.status_code == 201
    assert response.json["size"] == len(big)


def test_the_same_photo_sent_twice_is_stored_once(client, auth_headers, in_progress, officer):
    first = upload(client, auth_headers(officer), in_progress.id, JPEG)
    again = upload(client, auth_headers(officer), in_progress.id, JPEG)

    assert again.json["id"] == first.json["id"]
    assert len(client.get(f"{TASKS}/{in_progress.id}/photos", headers=auth_headers(officer)).json) == 1


def test_photos_wait_for_the_inspection_to_start(client, auth_headers, task, officer):
    response = upload(client, auth_headers(officer), task.id, JPEG)

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


def test_another_enterprise_cannot_see_the_photos(client, auth_headers, in_progress, officer, outsider):
    photo = upload(client, auth_headers(officer), in_progress.id, JPEG).json
    headers = auth_headers(outsider)

    assert client.get(f"{TASKS}/{in_progress.id}/photos", headers=headers).status_code == 404
    assert client.get(f"{TASKS}/{in_progress.id}/photos/{photo['id']}", headers=headers).status_code == 404


def test_only_officers_upload_photos(client, auth_headers, in_progress, declarant):
    assert upload(client, auth_headers(declarant), in_progress.id, JPEG).status_code == 403
