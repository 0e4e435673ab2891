"""End to end in a real browser: headless Chromium at the size of a cheap Android phone.

The real app runs in a background thread; Debian's Chromium drives it like a resident
(with and without JavaScript) and like a village team leader would. Every page is checked
for console errors (CSP violations included), horizontal overflow and small tap targets.

Set TIPLINE_SCREENSHOTS to a folder to keep full-page screenshots of each page for review.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import PASSWORD
from tipline.extensions import db
from tipline.tips.models import IdentityTier, Tip, TipStatus

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PHONE_WIDTH = 360
PHONE = {
    "viewport": {"width": PHONE_WIDTH, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}
MIN_TAP_HEIGHT = 40

SYMBOL = "[2-9A-HJ-NP-Z]"
REFERENCE = re.compile(rf"^TL-{SYMBOL}{{4}}-{SYMBOL}{{4}}$")
FOLLOW_UP_CODE = re.compile(rf"^{SYMBOL}{{4}}(-{SYMBOL}{{4}}){{3}}$")

# Everything a thumb is meant to hit. Radio buttons and checkboxes are not in the list:
# the tap target for them is their whole `label.choice`, which is.
TAP_TARGETS = (
    "a, button, select, textarea, summary, label.choice,"
    " input:not([type=hidden]):not([type=radio]):not([type=checkbox])"
)

MEASURE = """
([selector, minHeight]) => {
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || style.visibility === "hidden") continue;
    if (el.closest("details:not([open])") && el.tagName !== "SUMMARY") continue;
    if (r.right <= 0 || r.bottom + window.scrollY <= 0) continue;  // parked off screen (skip link)
    if (r.height < minHeight) {
      const text = (el.innerText || el.value || el.name || "").trim().slice(0, 40);
      small.push(`${el.tagName.toLowerCase()}.${el.className || "-"} "${text}": ${r.height}px`);
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    small,
  };
}
"""

UNLABELLED = """
() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter((el) => el.labels.length === 0 && !el.getAttribute("aria-label"))
  .map((el) => el.name || el.id)
"""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep errors, drop the access log
        pass


class PostRecorder:
    """WSGI wrapper that keeps the raw body of every POST while a test asks for them."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.bodies: list[tuple[str, bytes]] | None = None

    def __call__(self, environ, start_response):
        if self.bodies is not None and environ["REQUEST_METHOD"] == "POST":
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            self.bodies.append((environ.get("CONTENT_TYPE", ""), body))
        return self.wsgi_app(environ, start_response)


RECORDER = PostRecorder(None)


@pytest.fixture(scope="module")
def live_server(app):
    answer = app.test_client().get("/staff/login")
    if answer.status_code in (301, 302) and answer.location.startswith("https:"):
        pytest.fail(
            "the app redirects plain HTTP to HTTPS: an earlier create_app() in this process "
            "reconfigured the shared flask-talisman instance (it keeps force_https on itself)"
        )
    RECORDER.wsgi_app = app
    server = make_server("127.0.0.1", 0, RECORDER, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Phone:
    """Fresh browser contexts at phone size; remembers every console error and page error."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts = []
        self.problems: list[str] = []

    def open(self, *, javascript: bool = True, **options):
        context = self.browser.new_context(
            **{**PHONE, **options}, base_url=self.base_url, java_script_enabled=javascript
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        return page

    def _on_console(self, message) -> None:
        if message.type in {"error", "warning"}:
            location = message.location.get("url", "")
            self.problems.append(f"console {message.type} at {location}: {message.text}")

    def assert_no_errors(self) -> None:
        assert self.problems == [], "\n".join(self.problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def phone(browser, live_server):
    phone = Phone(browser, live_server)
    yield phone
    phone.close()


def shoot(page, name: str) -> None:
    """Keep a full-page screenshot when TIPLINE_SCREENSHOTS names a folder."""
    folder = os.environ.get("TIPLINE_SCREENSHOTS")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    page.screenshot(path=str(path / f"{name}.png"), full_page=True)


def check_fits_phone(page, name: str) -> None:
    """No sideways scrolling, and every visible tap target is at least MIN_TAP_HEIGHT high."""
    page.wait_for_load_state("load")  # a click returns once a navigation starts, not ends
    shoot(page, name)
    measured = page.evaluate(MEASURE, [TAP_TARGETS, MIN_TAP_HEIGHT])
    assert measured["scrollWidth"] <= PHONE_WIDTH, f"{name} scrolls sideways: {measured}"
    assert measured["bodyScrollWidth"] <= PHONE_WIDTH, f"{name} scrolls sideways: {measured}"
    assert measured["small"] == [], f"{name}: tap targets under {MIN_TAP_HEIGHT}px: {measured}"


def make_photo(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (90, 140, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 300, 540, 420), fill=(60, 60, 60))
    draw.ellipse((250, 80, 390, 220), fill=(240, 200, 40))
    path = folder / "xe-may.jpg"
    image.save(path, "JPEG", quality=80)
    return path


def post(page, button: str, status: int = 200) -> None:
    """Tap a form's submit button and check the server's answer to the POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=button, exact=True).click()
    response = answer.value
    headers = response.request.all_headers()
    assert response.status == status, (
        f"POST {response.url} answered {response.status}, not {status}; the browser sent "
        f"Origin={headers.get('origin')!r}, Sec-Fetch-Site={headers.get('sec-fetch-site')!r}"
    )


def start_tip(page, commune: str = "Xã An Bình") -> None:
    """From the home page to the tip form of a commune, the way a resident taps."""
    page.goto("/")
    page.get_by_role("link", name="Gửi tin báo", exact=True).click()
    page.get_by_label("Xã, phường").select_option(label=commune)
    page.get_by_role("button", name="Tiếp tục").click()
    page.get_by_role("heading", name="Gửi tin báo").wait_for()


def fill_tip(page, description: str) -> None:
    page.get_by_label("Thôn, tổ dân phố").select_option(label="Thôn Đông")
    page.get_by_label("Trộm cắp tài sản").check()
    page.get_by_label("Chuyện gì đã xảy ra?").fill(description)


def read_receipt(page) -> tuple[str, str]:
    page.get_by_role("heading", name="Đã nhận tin báo của bạn").wait_for()
    reference = page.locator("#reference").inner_text().strip()
    code = page.locator("#follow-up-code").inner_text().strip()
    assert REFERENCE.match(reference), reference
    assert FOLLOW_UP_CODE.match(code), code
    return reference, code


def follow_up(page, reference: str, code: str) -> None:
    page.get_by_label("Mã số tin báo").fill(reference)
    page.get_by_label("Mã tra cứu").fill(code)
    post(page, "Xem tình trạng")
    page.get_by_role("heading", name=f"Tin báo {reference}").wait_for()


def stored_tip(app, reference: str) -> dict:
    with app.app_context():
        tip = db.session.scalar(select(Tip).where(Tip.reference == reference))
        assert tip is not None, f"{reference} is not in the database"
        return {
            "unit": tip.unit.code,
            "category": tip.category.code,
            "description": tip.description,
            "status": tip.status,
            "tier": tip.identity_tier,
            "photos": len(tip.photos),
        }


def log_in(page, username: str) -> None:
    page.goto("/staff/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    post(page, "Đăng nhập", status=302)
    page.wait_for_url(lambda url: "/staff/login" not in url)
    # Each role lands on its own page (a village team: its village's); these tests start
    # from the inbox.
    page.goto("/staff/")
    page.get_by_role("heading", name="Hộp tin").wait_for()


# --- residents -------------------------------------------------------------------------


def test_resident_sends_anonymous_tip_on_phone_without_javascript(app, world, phone):
    page = phone.open(javascript=False)
    start_tip(page)
    fill_tip(page, "Có người lạ lấy trộm xe máy trước nhà văn hóa lúc 9 giờ tối.")
    post(page, "Gửi tin báo")
    reference, code = read_receipt(page)

    # Without script the receipt's status link opens the lookup form with the reference in.
    page.get_by_role("link", name="Xem tình trạng").click()
    assert page.url.endswith(f"/tra-cuu?reference={reference}")
    assert page.get_by_label("Mã số tin báo").input_value() == reference
    follow_up(page, reference, code)
    assert page.locator(".lead .status").inner_text() == "Mới tiếp nhận"

    assert stored_tip(app, reference) == {
        "unit": "A1",
        "category": "theft",
        "description": "Có người lạ lấy trộm xe máy trước nhà văn hóa lúc 9 giờ tối.",
        "status": TipStatus.RECEIVED,
        "tier": IdentityTier.ANONYMOUS,
        "photos": 0,
    }
    phone.assert_no_errors()


def test_resident_sends_tip_with_photo_on_phone_with_javascript(app, world, phone, tmp_path):
    page = phone.open(javascript=True)
    start_tip(page)
    fill_tip(page, "Hai thanh niên bẻ khóa xe đạp ở cổng chợ, có ảnh kèm theo.")
    page.get_by_label("Ở đâu? (số nhà, đường, địa điểm gần đó)").fill("Cổng chợ Đông")
    page.get_by_label("Ảnh (không bắt buộc)").set_input_files(make_photo(tmp_path))
    post(page, "Gửi tin báo")
    reference, code = read_receipt(page)
    assert "Kèm 1 ảnh." in page.locator("main").inner_text()

    page.goto("/tra-cuu")
    follow_up(page, reference, code)
    assert page.locator(".lead .status").inner_text() == "Mới tiếp nhận"

    tip = stored_tip(app, reference)
    assert (tip["unit"], tip["category"], tip["photos"]) == ("A1", "theft", 1)
    phone.assert_no_errors()


def test_empty_description_shows_vietnamese_error_next_to_field_and_keeps_the_rest(
    app, world, phone
):
    page = phone.open(javascript=False)
    start_tip(page)
    page.get_by_label("Thôn, tổ dân phố").select_option(label="Thôn Tây")
    page.get_by_label("Đánh nhau, gây rối trật tự").check()
    page.get_by_label("Ở đâu? (số nhà, đường, địa điểm gần đó)").fill("Quán karaoke đầu làng")
    post(page, "Gửi tin báo", status=422)

    page.get_by_role("alert").wait_for()
    assert "Tin chưa được gửi." in page.get_by_role("alert").inner_text()
    description = page.get_by_label("Chuyện gì đã xảy ra?")
    error = page.locator("#description-error")
    assert error.inner_text() == "Hãy mô tả sự việc."
    assert "description-error" in description.get_attribute("aria-describedby")
    assert description.get_attribute("aria-invalid") == "true"
    # "next to the field": the message sits right under the text box, inside its field.
    assert page.locator(".field.has-error").filter(has=description).locator(".error").count() == 1
    box, message = description.bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (box["y"] + box["height"]) < 24

    assert page.get_by_label("Thôn, tổ dân phố").input_value() == "A2"
    assert page.get_by_label("Đánh nhau, gây rối trật tự").is_checked()
    assert page.get_by_label("Ở đâu? (số nhà, đường, địa điểm gần đó)").input_value() == (
        "Quán karaoke đầu làng"
    )
    page.get_by_text("Tọa độ (không bắt buộc)").click()  # open it for the screenshot
    check_fits_phone(page, "04-form-with-error")

    with app.app_context():
        assert db.session.scalar(select(Tip)) is None
    # A 422 answer is the right one here; Chromium reports it as a failed resource load.
    phone.problems = [p for p in phone.problems if "status of 422" not in p]
    phone.assert_no_errors()


# --- layout on a 360-px phone ------------------------------------------------------------


def test_no_page_scrolls_sideways_and_tap_targets_are_thumb_sized(app, world, make_tip, phone):
    tip = make_tip(world.a1, place="Ngã ba gần trường tiểu học, cạnh quán nước")
    public_id = tip.public_id
    page = phone.open()

    page.goto("/")
    check_fits_phone(page, "01-home")
    page.goto("/gui-tin")
    check_fits_phone(page, "02-choose-commune")
    page.get_by_label("Xã, phường").select_option(label="Xã An Bình")
    page.get_by_role("button", name="Tiếp tục").click()
    check_fits_phone(page, "03-form")
    fill_tip(page, "Nhóm thanh niên tụ tập đua xe, nẹt pô sau 11 giờ đêm ở đường liên thôn.")
    post(page, "Gửi tin báo")
    reference, code = read_receipt(page)
    check_fits_phone(page, "05-receipt")
    page.goto("/tra-cuu")
    check_fits_phone(page, "06-follow-up")
    follow_up(page, reference, code)
    check_fits_phone(page, "07-status")

    page.goto("/staff/login")
    check_fits_phone(page, "08-staff-login")
    log_in(page, "leader_a1")
    check_fits_phone(page, "09-staff-inbox")
    page.goto(f"/staff/tips/{public_id}")
    check_fits_phone(page, "10-staff-tip")
    phone.assert_no_errors()


# --- staff ---------------------------------------------------------------------------------


def test_village_leader_triages_a_tip_on_phone(app, world, make_tip, phone):
    reference = make_tip(world.a1).reference
    page = phone.open()
    log_in(page, "leader_a1")
    page.get_by_role("link", name=re.compile(reference)).click()
    heading = page.get_by_role("heading", level=1)
    assert heading.locator(".status").inner_text() == "Mới tiếp nhận"

    triage = page.locator("details#action-triage")
    assert triage.get_attribute("open") is None
    triage.locator("summary").click()
    check_fits_phone(page, "11-staff-action-open")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        triage.get_by_role("button", name="Tiếp nhận").click()
    assert answer.value.status == 303

    page.get_by_role("status").wait_for()
    assert heading.locator(".status").inner_text() == "Đã tiếp nhận, đang xử lý"
    assert reference in page.get_by_role("status").inner_text()
    shoot(page, "12-staff-tip-triaged")
    assert stored_tip(app, reference)["status"] == TipStatus.TRIAGED
    phone.assert_no_errors()


# --- accessibility basics -----------------------------------------------------------------


def test_pages_are_vietnamese_and_every_form_field_has_a_label(world, phone):
    page = phone.open()
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "vi"
    # The first Tab reaches the skip link, which becomes visible and jumps to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Bỏ qua, đến nội dung chính")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.bounding_box()["x"] >= 0

    page.goto("/gui-tin")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.evaluate(UNLABELLED) == []
    assert page.get_by_label("Xã, phường").evaluate("el => el.tagName") == "SELECT"

    page.goto("/gui-tin?xa=A")
    assert page.evaluate(UNLABELLED) == []
    for label, tag in [
        ("Thôn, tổ dân phố", "SELECT"),
        ("Trộm cắp tài sản", "INPUT"),
        ("Chuyện gì đã xảy ra?", "TEXTAREA"),
        ("Ở đâu? (số nhà, đường, địa điểm gần đó)", "INPUT"),
        ("Ngày xảy ra", "INPUT"),
        ("Giờ (nếu nhớ)", "INPUT"),
        ("Vĩ độ", "INPUT"),
        ("Kinh độ", "INPUT"),
        ("Ảnh (không bắt buộc)", "INPUT"),
        ("Họ và tên", "INPUT"),
        ("Số điện thoại", "INPUT"),
    ]:
        assert page.get_by_label(label, exact=True).evaluate("el => el.tagName") == tag, label
    for tier in ("Ẩn danh", "Giữ bí mật danh tính", "Công khai danh tính với tổ xử lý"):
        assert page.get_by_label(tier).get_attribute("type") == "radio", tier
    hint = page.get_by_label("Chuyện gì đã xảy ra?").get_attribute("aria-describedby")
    assert hint == "description-hint"
    # Name and phone boxes show only for a tipster who gives them (CSS :has, no script needed).
    assert page.get_by_label("Ẩn danh").is_checked()
    name, phone_number = (page.get_by_label(t, exact=True) for t in ("Họ và tên", "Số điện thoại"))
    assert not name.is_visible()
    assert not phone_number.is_visible()
    page.get_by_label("Giữ bí mật danh tính").check()
    assert name.is_visible()
    assert phone_number.is_visible()

    page.goto("/tra-cuu")
    assert page.evaluate(UNLABELLED) == []
    page.get_by_label("Mã số tin báo").wait_for()
    page.get_by_label("Mã tra cứu").wait_for()

    page.goto("/staff/login")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.evaluate(UNLABELLED) == []
    page.get_by_label("Tên đăng nhập").wait_for()
    page.get_by_label("Mật khẩu").wait_for()
    phone.assert_no_errors()


# --- what JavaScript adds: offline outbox, photo shrinking, location, language -----------


def tips_with(app, description: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Tip.reference).where(Tip.description == description)))


def wait_for_service_worker(page) -> None:
    """Until the page is controlled by the service worker (it claims pages on activation)."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def test_tip_written_offline_waits_on_the_phone_and_is_sent_once_when_online(app, world, phone):
    from tipline.tips.services import find_by_receipt

    page = phone.open()
    start_tip(page)
    wait_for_service_worker(page)
    # The worker keeps the blank form, without its one-time submission key.
    cached = page.evaluate(
        """async () => {
          for (const name of await caches.keys()) {
            const hit = await (await caches.open(name)).match(location.href);
            if (hit) return await hit.text();
          }
          return null;
        }"""
    )
    assert cached is not None, "the form was not kept for offline use"
    assert 'name="submission_key" type="hidden" value=""' in cached
    assert "csrf" not in cached

    description = "Có người lạ dò xét các nhà trong xóm, gửi khi mất sóng."
    context = page.context
    context.set_offline(True)
    page.reload()  # the form opens from the worker's copy
    fill_tip(page, description)
    page.get_by_role("button", name="Gửi tin báo", exact=True).click()
    page.get_by_role("heading", name="Tin đã được lưu trên máy này").wait_for()
    code = page.locator("#follow-up-code").inner_text().strip()
    assert FOLLOW_UP_CODE.match(code), code
    assert page.locator("#reference").inner_text() == "sẽ hiện ở đây khi tin được gửi"
    assert tips_with(app, description) == []

    context.set_offline(False)  # nothing to press: the page sends it by itself
    page.wait_for_function(
        "() => /^TL-/.test(document.querySelector('#reference').textContent)", timeout=20_000
    )
    reference = page.locator("#reference").inner_text().strip()
    assert REFERENCE.match(reference), reference
    page.get_by_role("heading", name="Đã nhận tin báo của bạn").wait_for()
    assert "Đã gửi tin" in page.locator("#outbox").inner_text()
    assert tips_with(app, description) == [reference]
    # Its receipt then opens the status page, the code in the fragment only (issue 17).
    see = page.locator("main #see-status")
    assert see.get_attribute("href") == f"/tra-cuu?reference={reference}#ma={code}"

    # Another sender (a second tab, the worker's sync) finds nothing left to send;
    # and a replay of the same submission gives back the same tip.
    page.evaluate("() => TiplineOutbox.sendAll()")
    page.reload()
    page.locator("#outbox").get_by_text(reference).wait_for()
    assert tips_with(app, description) == [reference]
    with app.app_context():
        assert find_by_receipt(reference, code).reference == reference

    page.goto("/tra-cuu")
    follow_up(page, reference, code)
    page.locator("#outbox").get_by_role("button", name="Đã ghi lại, xóa khỏi máy").click()
    page.locator("#outbox").wait_for(state="hidden")
    phone.problems = [p for p in phone.problems if "ERR_INTERNET_DISCONNECTED" not in p]
    phone.assert_no_errors()


def make_big_photo(folder: Path) -> Path:
    from PIL import Image

    noise = Image.effect_noise((3000, 2000), 60).convert("RGB")
    path = folder / "camera.jpg"
    noise.save(path, "JPEG", quality=95)
    return path


def test_photo_is_shrunk_on_the_phone_before_it_travels(app, world, phone, tmp_path):
    import io

    from PIL import Image
    from werkzeug.formparser import parse_form_data

    big = make_big_photo(tmp_path)
    page = phone.open()
    start_tip(page)
    description = "Xe tải đổ trộm phế thải ra bờ sông, có ảnh chụp bằng điện thoại."
    fill_tip(page, description)
    page.get_by_label("Ảnh (không bắt buộc)").set_input_files(big)
    RECORDER.bodies = []
    try:
        post(page, "Gửi tin báo")
        reference, code = read_receipt(page)
    finally:
        bodies, RECORDER.bodies = RECORDER.bodies, None
    assert len(bodies) == 1
    content_type, body = bodies[0]
    assert len(body) < big.stat().st_size / 4, (len(body), big.stat().st_size)
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    _, form, files = parse_form_data(environ)
    with files["photo"].stream as stream, Image.open(stream) as photo:
        assert (photo.format, photo.size) == ("JPEG", (1600, 1067))
    assert re.fullmatch(f"{SYMBOL}{{16}}", form["follow_up_code"])
    assert code.replace("-", "") == form["follow_up_code"]
    assert stored_tip(app, reference)["photos"] == 1
    phone.assert_no_errors()


def test_use_my_location_fills_the_coordinates(world, phone):
    page = phone.open(
        geolocation={"latitude": 19.807512, "longitude": 105.776401}, permissions=["geolocation"]
    )
    page.goto("/gui-tin?xa=A")
    page.get_by_role("button", name="Dùng vị trí của tôi").click()
    page.get_by_text("Đã điền vĩ độ và kinh độ.").wait_for()
    assert page.get_by_label("Vĩ độ").input_value() == "19.807512"
    assert page.get_by_label("Kinh độ").input_value() == "105.776401"
    phone.assert_no_errors()


def test_location_button_needs_javascript_and_is_hidden_without_it(world, phone):
    page = phone.open(javascript=False)
    page.goto("/gui-tin?xa=A")
    assert not page.get_by_role("button", name="Dùng vị trí của tôi").is_visible()
    page.get_by_text("Tọa độ (không bắt buộc)").click()
    page.get_by_label("Vĩ độ").fill("19.8")  # typed by hand instead


def test_resident_switches_to_english_and_the_phone_remembers_without_a_cookie(world, phone):
    page = phone.open()
    page.goto("/gui-tin?xa=A")
    page.get_by_role("link", name="English").click()
    page.get_by_role("heading", name="Send a tip").wait_for()
    # The form's own key rides in the address until the script takes it out.
    page.wait_for_function("() => !location.search.includes('phieu=')")
    assert page.url.endswith("/en/gui-tin?xa=A")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Follow up", exact=True).click()
    page.get_by_role("heading", name="Follow up a tip").wait_for()

    # Coming back to a plain address (a bookmark, the home-screen icon): still English.
    page.goto("/")
    page.wait_for_url("**/en/")
    page.get_by_role("heading", name="Report security and order problems where you live").wait_for()
    assert page.context.cookies() == []

    page.get_by_role("link", name="Tiếng Việt").click()
    page.get_by_role("heading", name="Báo tin về an ninh, trật tự nơi bạn sống").wait_for()
    page.goto("/tra-cuu")
    page.get_by_role("heading", name="Tra cứu tin báo").wait_for()
    assert page.url.endswith("/tra-cuu") and "/en/" not in page.url
    check_fits_phone(page, "13-follow-up-after-switch")
    phone.assert_no_errors()


def test_english_pages_fit_the_phone(world, phone):
    page = phone.open()
    for path, name in [("/en/", "20-en-home"), ("/en/gui-tin?xa=A", "21-en-form")]:
        page.goto(path)
        check_fits_phone(page, name)
    phone.assert_no_errors()


def test_tipster_adds_a_photo_later_from_the_status_page(app, world, phone, tmp_path):
    page = phone.open()
    start_tip(page)
    fill_tip(page, "Bãi đất trống sau chợ có người tụ tập ban đêm, ảnh gửi sau.")
    post(page, "Gửi tin báo")
    reference, code = read_receipt(page)
    page.goto("/tra-cuu")
    follow_up(page, reference, code)
    assert "Tin có 0 ảnh." in page.locator("main").inner_text()
    page.get_by_label("Thêm ảnh").set_input_files(make_big_photo(tmp_path))
    post(page, "Gửi ảnh")
    page.get_by_text("Đã thêm 1 ảnh.").wait_for()
    assert "Tin có 1 ảnh." in page.locator("main").inner_text()
    assert stored_tip(app, reference)["photos"] == 1
    check_fits_phone(page, "14-status-photo-added")
    phone.assert_no_errors()
