"""Clone alarms: flagged lookups land in the officers' risk queue, one warning per code, repeats counted."""

from dataclasses import replace

import pytest

from tests.trace.helpers import GTIN, issue, make_setup, release, set_status

JSON = {"Accept": "application/json"}


@pytest.fixture
def live_code(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    code = issue(client, headers, setup.declaration.id, 1).json["codes"][0]
    set_status(client, headers, "affixed", serials=[code["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return {**code, "setup": setup, "path": f"/01/{GTIN}/21/{code['serial']}"}


def limits(app, settings, monkeypatch, **changes):
    monkeypatch.setitem(app.extensions, "settings", replace(settings, **changes))


def trace_warnings(client, headers):
    response = client.get("/api/v1/risk/warnings?source=trace", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["items"]


def test_a_code_looked_up_past_the_limit_raises_a_warning_officers_see(
    client, app, settings, monkeypatch, auth_headers, live_code
):
    limits(app, settings, monkeypatch, trace_scan_limit=2)
    officer = auth_headers(live_code["setup"].officer)

    for _ in range(3):
        client.get(live_code["path"], headers=JSON)

    [warning] = trace_warnings(client, officer)
    assert warning["subject_key"] == f"trace:{live_code['serial']}"
    assert warning["severity"] == "medium"
    assert live_code["serial"] in warning["title"]
    assert warning["details"]["rules"] == ["lookups"]
    assert (warning["details"]["lookups"], warning["details"]["lookup_limit"]) == (3, 2)
    assert warning["declaration_id"] == live_code["setup"].declaration.id
    assert warning["occurrences"] == 1


def test_lookups_within_the_limits_raise_nothing(client, auth_headers, live_code):
    for _ in range(3):
        client.get(live_code["path"], headers=JSON)

    assert trace_warnings(client, auth_headers(live_code["setup"].officer)) == []


def test_repeated_flagged_lookups_count_on_the_same_warning(
    client, app, settings, monkeypatch, auth_headers, live_code
):
    limits(app, settings, monkeypatch, trace_scan_limit=1)

    for _ in range(4):
        client.get(live_code["path"], headers=JSON)

    [warning] = trace_warnings(client, auth_headers(live_code["setup"].officer))
    assert warning["occurrences"] == 3
    assert warning["details"]["lookups"] == 4


def test_a_resolved_warning_stays_resolved_and_the_next_flag_opens_a_new_one(
    client, app, settings, monkeypatch, auth_headers, live_code
):
    limits(app, settings, monkeypatch, trace_scan_limit=1)
    officer = auth_headers(live_code["setup"].officer)
    client.get(live_code["path"], headers=JSON)
    client.get(live_code["path"], headers=JSON)
    [warning] = trace_warnings(client, officer)

    resolved = client.post(
        f"/api/v1/risk/warnings/{warning['id']}/resolve",
        json={"resolution": "confirmed", "notes": "Copied labels sold online; shop reported."},
        headers=officer,
    )
    client.get(live_code["path"], headers=JSON)

    assert resolved.status_code == 200
    assert resolved.json["status"] == "resolved"
    assert [(w["status"], w["occurrences"]) for w in trace_warnings(client, officer)] == [
        ("open", 1),
        ("resolved", 1),
    ]


def test_a_code_seen_from_too_many_networks_raises_a_high_warning(
    client, app, settings, monkeypatch, auth_headers, live_code
):
    limits(app, settings, monkeypatch, trace_network_limit=2)

    for n in range(3):
        client.get(live_code["path"], headers=JSON, environ_base={"REMOTE_ADDR": f"198.51.{n}.1"})

    [warning] = trace_warnings(client, auth_headers(live_code["setup"].officer))
    assert warning["severity"] == "high"
    assert warning["details"]["rules"] == ["networks"]
    assert warning["details"]["networks_in_window"] == 3


def test_a_code_seen_from_too_many_regions_is_suspicious_and_warned_about(
    client, app, settings, monkeypatch, auth_headers, live_code
):
    # Regions come only from the park's own edge proxy, which must be trusted for the header to count.
    limits(app, settings, monkeypatch, trace_region_limit=1, trusted_proxy_count=1)

    verdicts = [
        client.get(live_code["path"], headers={**JSON, "X-Client-Region": region}).json["verdict"]
        for region in ("重庆", "上海")
    ]

    assert verdicts == ["genuine", "suspicious"]
    [warning] = trace_warnings(client, auth_headers(live_code["setup"].officer))
    assert warning["details"]["rules"] == ["regions"]


def test_a_consumer_lookup_before_release_raises_a_high_warning(client, session, auth_headers):
    setup = make_setup(session)
    serial = issue(client, auth_headers(setup.operator), setup.declaration.id, 1).json["codes"][0]["serial"]

    verdict = client.get(f"/01/{GTIN}/21/{serial}", headers=JSON).json["verdict"]

    assert verdict == "not_released"
    [warning] = trace_warnings(client, auth_headers(setup.officer))
    assert warning["subject_key"] == f"trace:{serial}"
    assert warning["severity"] == "high"
    assert warning["details"]["rules"] == ["before_release"]
    assert warning["details"]["lookups_before_release"] == 1


def test_machine_views_and_bots_raise_no_warning(client, session, auth_headers):
    setup = make_setup(session)
    serial = issue(client, auth_headers(setup.operator), setup.declaration.id, 1).json["codes"][0]["serial"]

    client.get(f"/01/{GTIN}/21/{serial}?linkType=linkset")
    client.head(f"/01/{GTIN}/21/{serial}", headers=JSON)
    client.get(f"/01/{GTIN}/21/{serial}", headers={**JSON, "User-Agent": "Slackbot-LinkExpanding 1.0"})

    assert trace_warnings(client, auth_headers(setup.officer)) == []


def test_lookups_of_recalled_codes_are_not_clone_alarms(client, app, settings, monkeypatch, auth_headers, live_code):
    limits(app, settings, monkeypatch, trace_scan_limit=0)
    officer = auth_headers(live_code["setup"].officer)
    set_status(client, officer, "recalled", serials=[live_code["serial"]])

    assert client.get(live_code["path"], headers=JSON).json["verdict"] == "recalled"
    assert trace_warnings(client, officer) == []
