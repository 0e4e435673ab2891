"""What the resident's phone downloads: fingerprinted static files, compression, the
service worker and manifest, the size budgets, and the language chosen by URL prefix."""

from __future__ import annotations

import gzip
import io
import json
import re

import pytest
from PIL import Image

from tipline.tips import services

GZIP = {"Accept-Encoding": "gzip, deflate"}
FIRST_VISIT_BUDGET = 50 * 1024
REPEAT_VISIT_BUDGET = 5 * 1024


def linked_assets(html: str) -> list[str]:
    """Every same-site file a browser loads for a page (styles, scripts, icons, manifest)."""
    urls = re.findall(r'<(?:link|script)[^>]*?(?:href|src)="(/[^"]*)"', html)
    return [u for u in urls if not u.startswith("/gui-tin") and "hreflang" not in u]


def transferred(response) -> int:
    """Bytes on the wire, roughly: the body as sent plus its headers."""
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    size = len(response.data) + headers
    response.close()
    return size


# --- static files ---------------------------------------------------------------------


def test_pages_link_static_files_by_fingerprinted_name_cached_for_a_year(client, world):
    html = client.get("/gui-tin?xa=A").get_data(as_text=True)
    css = re.search(r'href="(/static/tipline\.([0-9a-f]{10})\.css)"', html)
    assert css, "the stylesheet is not fingerprinted"
    answer = client.get(css.group(1))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert answer.mimetype == "text/css"
    # The plain name still answers, but is revalidated every time.
    plain = client.get("/static/tipline.css")
    assert plain.status_code == 200
    assert plain.headers["Cache-Control"] == "no-cache"
    assert plain.data == answer.data
    again = client.get("/static/tipline.css", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/static/tipline.0000000000.css").status_code == 404


def test_fingerprint_changes_with_the_content(app, tmp_path):
    from tipline.core.assets import AssetTable

    (tmp_path / "a.css").write_text("body{}")
    first = AssetTable(tmp_path).by_name["a.css"].fingerprinted
    (tmp_path / "a.css").write_text("body{color:red}")
    second = AssetTable(tmp_path).by_name["a.css"].fingerprinted
    assert first != second
    assert re.fullmatch(r"a\.[0-9a-f]{10}\.css", first)


def test_resident_pages_and_static_files_are_compressed(client, world):
    for url in ("/", "/gui-tin?xa=A", "/static/tipline.css", "/static/tipline.js"):
        answer = client.get(url, headers=GZIP)
        assert answer.headers.get("Content-Encoding") == "gzip", url
        assert "Accept-Encoding" in answer.headers["Vary"], url
        assert gzip.decompress(answer.data), url


def test_staff_pages_are_not_compressed(client, world):
    # A page with a CSRF token next to reflected input is what BREACH needs.
    answer = client.get("/staff/login", headers=GZIP)
    assert answer.headers.get("Content-Encoding") is None


def test_submit_page_stays_within_its_first_and_repeat_visit_budgets(client, world):
    page = client.get("/gui-tin?xa=A", headers=GZIP)
    html = gzip.decompress(page.data).decode()
    assets = linked_assets(html)
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    first = transferred(page) + transferred(client.get("/favicon.ico", headers=GZIP))
    for url in assets:
        answer = client.get(url, headers=GZIP)
        assert answer.status_code == 200, url
        first += transferred(answer)
    assert first <= FIRST_VISIT_BUDGET, f"first visit: {first} bytes"
    # A repeat visit fetches the page only: every asset is fingerprinted and immutable.
    for url in assets:
        if url.startswith("/static/"):
            cache = client.get(url).headers["Cache-Control"]
            assert "immutable" in cache, url
    assert transferred(page) <= REPEAT_VISIT_BUDGET, f"repeat visit: {transferred(page)} bytes"


def test_no_page_loads_anything_from_another_site(client, world):
    for url in ("/", "/gui-tin", "/gui-tin?xa=A", "/tra-cuu", "/en/"):
        html = client.get(url).get_data(as_text=True)
        html = re.sub(r'<link rel="alternate"[^>]*>', "", html)  # names, does not load
        assert not re.search(r"""(?:src|href|action)=["'](?:https?:)?//""", html), url
        assert "@import" not in html and "fonts.googleapis" not in html


# --- the installable app ----------------------------------------------------------------


def test_service_worker_is_served_from_the_root_and_precaches_existing_assets(client):
    answer = client.get("/sw.js")
    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "no-cache"
    body = answer.get_data(as_text=True)
    settings = json.loads(re.match(r"self\.TIPLINE = (\{.*\});", body).group(1))
    assert settings["assets"]
    for url in [*settings["assets"], settings["outbox"]]:
        assert re.search(r"\.[0-9a-f]{10}\.", url), url
        assert client.get(url).status_code == 200, url
    # Posts (receipts, status pages) are never handled, let alone cached.
    assert 'request.method !== "GET"' in body


def test_manifest_names_the_app_and_its_icons_exist_at_their_sizes(client):
    answer = client.get("/manifest.webmanifest")
    assert answer.mimetype == "application/manifest+json"
    data = json.loads(answer.data)
    assert data["start_url"] == "/"
    assert data["display"] == "standalone"
    assert data["lang"] == "vi"
    assert data["name"] == "Tin báo an ninh, trật tự"
    assert any(icon.get("purpose") == "maskable" for icon in data["icons"])
    for icon in data["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200, icon
        if icon["type"] == "image/png":
            width, height = Image.open(io.BytesIO(image.data)).size
            assert f"{width}x{height}" == icon["sizes"], icon


def test_english_manifest_starts_the_app_in_english(client):
    data = json.loads(client.get("/en/manifest.webmanifest").data)
    assert data["start_url"] == "/en/"
    assert data["lang"] == "en"
    assert data["name"] == "Security and order tips"


def test_robots_keeps_crawlers_out_of_staff_pages(client):
    body = client.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /staff/" in body


# --- languages ---------------------------------------------------------------------------


def test_english_lives_under_its_prefix_and_links_stay_english(client, world):
    answer = client.get("/en/gui-tin?xa=A")
    html = answer.get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "<h1>Send a tip</h1>" in html
    assert 'action="/en/gui-tin?xa=A"' in html
    assert 'href="/en/tra-cuu"' in html
    # The switch leads to the same page in Vietnamese, and the alternates say so.
    assert 'href="/gui-tin?xa=A" hreflang="vi"' in html
    assert '<link rel="alternate" hreflang="en" href="http://localhost/en/gui-tin?xa=A">' in html
    assert client.get("/en").headers["Location"] == "/en/"


def test_vietnamese_is_the_default_and_no_cookie_chooses_the_language(client, world):
    client.set_cookie("lang", "en")
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="vi"' in html
    assert "Gửi tin báo" in html


@pytest.mark.parametrize("url", ["/", "/en/", "/gui-tin?xa=A", "/en/gui-tin?xa=A", "/en/tra-cuu"])
def test_resident_pages_set_no_cookie(client, world, url):
    assert "Set-Cookie" not in client.get(url).headers


def test_english_tip_goes_through_and_the_receipt_is_english(client, world):
    data = {
        "submission_key": services.new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": "Two strangers on a motorbike without plates at night.",
        "identity_tier": "anonymous",
    }
    answer = client.post("/en/gui-tin?xa=A", data=data, content_type="multipart/form-data")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html
    assert "We have received your tip" in html
    assert answer.headers["Cache-Control"] == "no-store"


def test_english_errors_are_english(client, world):
    answer = client.post(
        "/en/gui-tin?xa=A",
        data={"submission_key": services.new_submission_key(), "village": "A1"},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Please describe what happened." in html
    assert "Please choose the type of incident." in html
