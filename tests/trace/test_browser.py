"""The consumer page as a phone's browser shows it: headless Chromium against the demo served by gunicorn."""

import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.live import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A phone's width (iPhone 12 to 15: 390 CSS pixels).
PHONE = "--window-size=390,1800"
# Screenshots a person can look at after the run (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "trace-page"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with live_server(tmp_path_factory.mktemp("browser")) as server:
        printed = server.seeded
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
            PHONE,
            *flags,
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def screenshot(url: str, name: str, language: str) -> Path:
    """The page as a 390-pixel phone shows it, as a PNG under artifacts/trace-page/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.unlink(missing_ok=True)
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--accept-lang={language}",
         PHONE, f"--screenshot={path}", url],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return path


def verdict(dom: str) -> str:
    return re.search(r'data-verdict="(\w+)"', dom).group(1)


def test_the_demo_code_shows_genuine_in_chinese(demo):
    dom = rendered(demo)

    assert verdict(dom) == "genuine"
    assert "正品" in dom
    assert "海关放行" in dom
    # The demo's import was inspected: a new user sees the step. Origin by name, the park's contact below.
    assert "海关查验" in dom
    assert '<dd id="origin">德国</dd>' in dom
    assert "海关热线" in dom and "12360" in dom
    assert screenshot(demo, "genuine-zh", "zh-CN").stat().st_size > 0


def test_the_demo_code_in_english_reads_english(demo):
    dom = rendered(demo, "en-US")

    assert verdict(dom) == "genuine"
    assert "Customs inspection" in dom and '<dd id="origin">Germany</dd>' in dom
    assert re.search(r"Looked up \d+ times?", dom)
    assert "正品" not in dom
    assert screenshot(demo, "genuine-en", "en-US").stat().st_size > 0


def test_the_matching_barcode_is_confirmed(demo):
    gtin = re.search(r"/01/(\d{14})/", demo).group(1)

    dom = rendered(f"{demo}?barcode={gtin}")

    assert verdict(dom) == "genuine"
    assert f"商品条码 {gtin} 与溯源码一致" in dom


def test_another_products_barcode_beside_it_shows_a_mismatch(demo):
    dom = rendered(f"{demo}?barcode=09506000134352", language="en-US")

    assert verdict(dom) == "gtin_mismatch"
    assert "Barcode mismatch" in dom
    # What the barcode belongs to (the demo registers it), what to do, and not the normal chain.
    assert "09506000134352 belongs to Vitamin gummies, 60 (Swisse)" in dom
    assert "Do not buy or use the item" in dom
    assert 'id="chain"' not in dom
    for language, name in (("en-US", "mismatch-en"), ("zh-CN", "mismatch-zh")):
        assert screenshot(f"{demo}?barcode=09506000134352", name, language).stat().st_size > 0


def test_an_unknown_code_shows_a_warning(demo):
    dom = rendered(re.sub(r"/21/[0-9A-Z]+$", "/21/ABCDEFGHJKMNPQRS", demo))

    assert verdict(dom) == "unknown"
    assert "谨防假冒" in dom
    assert 'id="barcode"' not in dom
    assert "接下来怎么办" in dom and 'id="report"' in dom
    assert screenshot(re.sub(r"/21/[0-9A-Z]+$", "/21/ABCDEFGHJKMNPQRS", demo), "unknown-zh", "zh-CN").stat().st_size


def test_a_report_is_a_plain_form_post_without_javascript(demo):
    dom = rendered(demo, "en-US")
    form = dict(re.findall(r'<input type="hidden" name="(code|token)" value="([^"]*)"', dom))
    action = re.search(r'<form method="post" action="([^"]+)"', dom).group(1).replace("&amp;", "&")
    body = urllib.parse.urlencode({**form, "problem": "packaging", "text": "", "phone": "13800138000"}).encode()

    # As the browser sends it: urlencoded, from the page's origin, no cookie.
    origin = re.sub(r"(https?://[^/]+).*", r"\1", demo)
    request = urllib.request.Request(origin + action, data=body, headers={"Origin": origin, "Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        page = answer.read().decode()

    assert "Reported, thank you" in page
    assert re.search(r"Reference: R[0-9A-F]{10}", page)
    assert "13800138000" not in page and "138******00" in page


def test_the_api_docs_render_under_their_content_security_policy(demo):
    docs = re.sub(r"/01/.*$", "/api/v1/docs", demo)

    # Swagger UI builds the page with its scripts: refused by the policy, the page would stay empty.
    dom = rendered(docs, "en-US", "--virtual-time-budget=15000")

    assert 'class="opblock-tag' in dom
    assert "/api/v1/auth/login" in dom
