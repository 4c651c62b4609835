"""The systemd units in deploy/ load in systemd and start what the live tests start."""

import re
import shutil
import subprocess

import pytest

from tests.live import ROOT

UNITS = ["smartpark-web.service", "smartpark-dispatcher.service"]


@pytest.fixture
def installed(tmp_path):
    """The units as on a host where the code is installed at this checkout (verify checks that commands exist)."""
    environment = tmp_path / "smartpark.env"
    environment.write_text("")
    for unit in UNITS:
        text = (ROOT / "deploy" / unit).read_text()
        text = text.replace("/opt/smartpark", str(ROOT)).replace("/etc/smartpark/smartpark.env", str(environment))
        (tmp_path / unit).write_text(text)
    return tmp_path


def test_the_units_pass_systemd_analyze_verify(installed):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")

    done = subprocess.run(
        ["systemd-analyze", "verify", *UNITS], cwd=installed, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("unit", "command"),
    [
        ("smartpark-web.service", "/opt/smartpark/.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app"),
        ("smartpark-dispatcher.service", "/opt/smartpark/.venv/bin/flask notices dispatch"),
    ],
)
def test_each_unit_runs_the_command_the_live_tests_run(unit, command):
    text = (ROOT / "deploy" / unit).read_text()

    assert re.search(rf"^ExecStart={re.escape(command)}$", text, re.MULTILINE)
    assert re.search(r"^EnvironmentFile=/etc/smartpark/smartpark.env$", text, re.MULTILINE)
    assert re.search(r"^User=smartpark$", text, re.MULTILINE)
