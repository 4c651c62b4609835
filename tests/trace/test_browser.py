"""The consumer page as a phone's browser shows it: headless Chromium against the demo served by gunicorn."""

import os
import re
import shutil
import subprocess

import pytest

from tests.live import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with live_server(tmp_path_factory.mktemp("browser")) as server:
        printed = server.flask("seed-demo").stdout
        # The URL seed-demo prints for the running demo, as a person would open it.
        yield re.search(re.escape(server.base) + r"/01/\d{14}/21/[0-9A-Z]{16}", printed).group(0)


def rendered(url: str, language: str = "zh-CN", *flags: str) -> str:
    """The page's DOM after Chromium loaded it (no JavaScript is needed for the verdict)."""
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--accept-lang={language}",
            *flags,
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def verdict(dom: str) -> str:
    return re.search(r'data-verdict="(\w+)"', dom).group(1)


def test_the_demo_code_shows_genuine_in_chinese(demo):
    dom = rendered(demo)

    assert verdict(dom) == "genuine"
    assert "正品" in dom
    assert "海关放行" in dom


def test_another_products_barcode_beside_it_shows_a_mismatch(demo):
    dom = rendered(f"{demo}?barcode=09506000134352", language="en-US")

    assert verdict(dom) == "gtin_mismatch"
    assert "Barcode mismatch" in dom


def test_an_unknown_code_shows_a_warning(demo):
    dom = rendered(re.sub(r"/21/[0-9A-Z]+$", "/21/ABCDEFGHJKMNPQRS", demo))

    assert verdict(dom) == "unknown"
    assert "谨防假冒" in dom


def test_the_api_docs_render_under_their_content_security_policy(demo):
    docs = re.sub(r"/01/.*$", "/api/v1/docs", demo)

    # Swagger UI builds the page with its scripts: refused by the policy, the page would stay empty.
    dom = rendered(docs, "en-US", "--virtual-time-budget=15000")

    assert 'class="opblock-tag' in dom
    assert "/api/v1/auth/login" in dom
