"""Dashboards over plain HTTP: who may open which, the figures they draw, the chart library served locally."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.auth import users
from app.common import clock
from app.common.figures import park_days
from app.declarations.models import Declaration, DeclarationKind, DeclarationStatus
from app.users.models import Role
from tests.factories import make_declaration, make_user

CHARTS = re.compile(rb'data-chart="([a-z-]+)"')


def test_an_officer_lands_on_the_clearance_dashboard_whose_frames_the_figures_fill(console_client, session):
    client = console_client(make_user(session, role=Role.CUSTOMS_OFFICER))

    landing = client.get("/console/dashboards/")
    page = client.get(landing.headers["Location"])
    figures = client.get("/console/dashboards/clearance.json").get_json()

    assert landing.headers["Location"].endswith("/console/dashboards/clearance")
    assert set(CHARTS.findall(page.data)) == {b"release-times", b"inspection-rate"}
    assert figures.keys() == {"release-times", "inspection-rate"}
    assert b'src="/console/static/vendor/echarts.min.js"' in page.data


def test_every_dashboard_has_figures_for_each_of_its_charts(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    for name in ("clearance", "gates", "notices", "trace"):
        frames = {chart.decode() for chart in CHARTS.findall(client.get(f"/console/dashboards/{name}").data)}
        figures = client.get(f"/console/dashboards/{name}.json").get_json()
        assert frames and frames == figures.keys(), name


def test_gate_staff_see_the_lanes_dashboard_only(console_client, session):
    client = console_client(make_user(session, role=Role.GATE_OPERATOR))

    landing = client.get("/console/dashboards/")
    page = client.get("/console/dashboards/gates")

    assert landing.headers["Location"].endswith("/console/dashboards/gates")
    assert b'href="/console/dashboards/clearance"' not in page.data
    assert client.get("/console/dashboards/clearance").status_code == 403
    assert client.get("/console/dashboards/trace.json").status_code == 403


def test_a_declarant_may_not_open_the_dashboards(console_client, session):
    client = console_client(make_user(session, role=Role.DECLARANT))

    assert client.get("/console/dashboards/").status_code == 403
    assert client.get("/console/dashboards/gates.json").status_code == 403


def test_an_unknown_dashboard_is_not_found(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    assert client.get("/console/dashboards/weather").status_code == 404


def test_the_release_time_chart_shows_todays_median_against_the_half_hour_goal(console_client, session):
    # An hour into today's park day (Asia/Shanghai): "now" minus 50 minutes is yesterday there from 16:00 to 16:50 UTC.
    released = park_days(1, now=clock.utcnow())[0].since + timedelta(hours=1)
    for minutes in (10, 20, 50):
        make_declaration(
            session,
            kind=DeclarationKind.IMPORT_INVENTORY,
            status=DeclarationStatus.RELEASED,
            submitted_at=released - timedelta(minutes=minutes),
            released_at=released,
        )
    client = console_client(make_user(session, role=Role.ADMIN))

    chart = client.get("/console/dashboards/clearance.json").get_json()["release-times"]

    median, p90 = chart["series"]
    assert (median["data"][-1], p90["data"][-1]) == (20.0, 44.0)
    assert chart["goal"]["value"] == 30
    assert chart["unit"] == "minutes"


def test_chart_words_come_in_the_pages_language(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"

    chart = client.get("/console/dashboards/clearance.json").get_json()["release-times"]

    assert [series["name"] for series in chart["series"]] == ["中位数", "第90百分位"]
    assert chart["goal"]["label"] == "目标：半小时"


def test_the_chart_library_is_served_from_the_consoles_static_folder(client):
    answer = client.get("/console/static/vendor/echarts.min.js")

    assert answer.status_code == 200
    assert answer.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/console/static/vendor/package.json").status_code == 404


def test_dashboard_pages_carry_no_inline_script_or_style(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    for name in ("clearance", "gates", "notices", "trace"):
        page = client.get(f"/console/dashboards/{name}").data
        assert b"<script>" not in page and b"<style" not in page and b" style=" not in page, name


def test_the_demo_gives_every_chart_something_to_draw_and_seeding_again_adds_no_history(app, console_client, session):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    history = session.scalar(select(func.count()).where(Declaration.cop_no.like("DEMO-H%")))
    again = runner.invoke(args=["seed-demo"])
    client = console_client(users.find_user_by_username(session, "admin"))

    assert again.exit_code == 0, again.output
    assert session.scalar(select(func.count()).where(Declaration.cop_no.like("DEMO-H%"))) == history > 0
    for name in ("clearance", "gates", "notices", "trace"):
        for chart, spec in client.get(f"/console/dashboards/{name}.json").get_json().items():
            values = [value for series in spec["series"] for value in series.get("data", [series.get("value")])]
            assert any(values), chart
