"""What a resident sees, in a real browser at phone size (issue 17, items 8 to 13): the
receipt's copy button and its status link that never puts the code in an address the server
or the history sees, the outbox line, what was sent behind one tap, the reply choice, the
photo preview, and the figures. Set TIPLINE_SCREENSHOTS to a folder to keep screenshots.

Skipped where Debian's chromium is missing, like tests/test_browser.py whose helpers it uses.
"""

from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tipline.core.timeutil import to_local, utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import MessageKind, Tip, TipMessage
from tipline.tips.services import ALPHABET, format_code

from .test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    Phone,
    _QuietHandler,
    browser,
    check_fits_phone,
    fill_tip,
    follow_up,
    make_photo,
    post,
    read_receipt,
    shoot,
    start_tip,
    wait_for_service_worker,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


class PathRecorder:
    """Every request line the server sees (path and query), as a server log would."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.seen: list[str] = []

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        self.seen.append(environ.get("PATH_INFO", "") + (f"?{query}" if query else ""))
        return self.wsgi_app(environ, start_response)


@pytest.fixture(scope="module")
def recorded_server(app):
    recorder = PathRecorder(app)
    server = make_server("127.0.0.1", 0, recorder, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="resident-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", recorder
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def resident(browser, recorded_server):  # noqa: F811
    base, recorder = recorded_server
    recorder.seen.clear()
    phone = Phone(browser, base)
    phone.recorder = recorder
    yield phone
    phone.close()


def _code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(16))


def _history(page) -> list[str]:
    """Every entry of the tab's history, as the browser keeps it."""
    session = page.context.new_cdp_session(page)
    entries = session.send("Page.getNavigationHistory")["entries"]
    session.detach()
    return [entry["url"] for entry in entries]


def _no_code_anywhere(resident, page, code: str) -> None:
    plain, grouped = code.replace("-", ""), format_code(code.replace("-", ""))
    for where, urls in (("server", resident.recorder.seen), ("history", _history(page))):
        leaked = [u for u in urls if plain in u.upper() or grouped in u.upper()]
        assert leaked == [], f"the follow-up code reached the {where}: {leaked}"
    assert plain not in page.url and grouped not in page.url


# --- item 8 ---------------------------------------------------------------------------------


def test_receipt_copies_both_codes_and_opens_the_status_without_the_code_in_any_address(
    app, world, resident
):
    page = resident.open(permissions=["clipboard-read", "clipboard-write"])
    start_tip(page)
    fill_tip(page, "Có người lạ lấy trộm xe máy trước nhà văn hóa lúc 9 giờ tối.")
    post(page, "Gửi tin báo")
    reference, code = read_receipt(page)
    check_fits_phone(page, "residents-receipt")

    page.get_by_role("button", name="Sao chép hai mã").click()
    page.get_by_text("Đã sao chép hai mã.").wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == f"Mã số tin báo: {reference}\nMã tra cứu: {code}"

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("link", name="Xem tình trạng").click()
    assert answer.value.url.endswith("/tra-cuu")  # the code went in the form's body
    page.get_by_role("heading", name=f"Tin báo {reference}").wait_for()
    assert page.locator(".lead .status").inner_text() == "Mới tiếp nhận"
    _no_code_anywhere(resident, page, code)
    assert any(u == f"/tra-cuu?reference={reference}" for u in resident.recorder.seen)
    resident.assert_no_errors()


def test_without_javascript_the_status_link_brings_the_reference_only(world, make_tip, resident):
    code = _code()
    reference = make_tip(world.a1, follow_up_code=code).reference
    page = resident.open(javascript=False)
    page.goto(f"/tra-cuu?reference={reference}")
    assert page.get_by_label("Mã số tin báo").input_value() == reference
    assert page.get_by_label("Mã tra cứu").input_value() == ""
    assert not page.get_by_role("button", name="Sao chép hai mã").is_visible()
    page.get_by_label("Mã tra cứu").fill(format_code(code))
    post(page, "Xem tình trạng")
    page.get_by_role("heading", name=f"Tin báo {reference}").wait_for()
    resident.assert_no_errors()


def test_a_status_link_with_the_code_in_the_fragment_never_sends_it(world, make_tip, resident):
    """An English phone that remembers its language: the fragment survives the switch."""
    code = _code()
    reference = make_tip(world.a1, follow_up_code=code).reference
    page = resident.open()
    page.goto("/en/")
    page.evaluate("() => localStorage.setItem('tipline-lang', 'en')")
    page.goto(f"/tra-cuu?reference={reference}#ma={format_code(code)}")
    page.get_by_role("heading", name=f"Tip {reference}").wait_for()
    assert "/en/" in page.url
    _no_code_anywhere(resident, page, code)
    resident.assert_no_errors()


def test_the_phone_keeps_no_reference_from_a_status_link(world, make_tip, resident):
    """The service worker keeps the lookup page for use offline: without the reference."""
    reference = make_tip(world.a1).reference
    page = resident.open()
    page.goto("/tra-cuu")
    wait_for_service_worker(page)
    page.goto(f"/tra-cuu?reference={reference}")
    assert page.get_by_label("Mã số tin báo").input_value() == reference
    page.wait_for_function(
        """async () => {
          for (const name of await caches.keys()) {
            const hit = await (await caches.open(name)).match(location.origin + "/tra-cuu");
            if (hit) return true;
          }
          return false;
        }"""
    )
    kept = page.evaluate(
        """async () => {
          const out = [];
          for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) {
              const response = await cache.match(request);
              const type = response.headers.get("Content-Type") || "";
              out.push([request.url, type.startsWith("text/html") ? await response.text() : ""]);
            }
          }
          return out;
        }"""
    )
    assert [url for url, _ in kept if "reference=" in url] == []
    assert [url for url, html in kept if reference in html] == []
    resident.assert_no_errors()


def test_outbox_line_names_reference_and_code_and_links_to_the_status(world, make_tip, resident):
    code = _code()
    reference = make_tip(world.a1, follow_up_code=code).reference
    page = resident.open()
    page.goto("/")
    # What the outbox keeps once a tip written offline has been sent.
    page.evaluate(
        """([reference, code]) => TiplineOutbox.put({id: "k1", kind: "tip", state: "sent",
            created: Date.now(), url: "/gui-tin", fields: [], reference, code})""",
        [reference, code],
    )
    page.reload()
    line = page.locator("#outbox li").first
    line.wait_for()
    text = line.inner_text()
    assert f"Mã số tin báo: {reference}" in text
    assert f"Mã tra cứu: {format_code(code)}" in text
    shoot(page, "residents-outbox")
    line.get_by_role("link", name="Xem tình trạng").click()
    page.get_by_role("heading", name=f"Tin báo {reference}").wait_for()
    _no_code_anywhere(resident, page, code)
    resident.assert_no_errors()


# --- items 9 and 10 ---------------------------------------------------------------------------


def test_what_was_sent_stays_closed_until_tapped_and_shows_its_thumbnail(
    app, world, resident, tmp_path
):
    page = resident.open()
    start_tip(page)
    fill_tip(page, "Hai thanh niên bẻ khóa xe đạp ở cổng chợ, có ảnh kèm theo.")
    page.get_by_label("Ở đâu? (số nhà, đường, địa điểm gần đó)").fill("Cổng chợ Đông")
    page.get_by_label("Ảnh (không bắt buộc)").set_input_files(make_photo(tmp_path))
    post(page, "Gửi tin báo")
    reference, code = read_receipt(page)
    page.get_by_role("link", name="Xem tình trạng").click()
    page.get_by_role("heading", name=f"Tin báo {reference}").wait_for()

    sent = page.locator("details#da-gui")
    assert sent.get_attribute("open") is None
    assert not page.get_by_text("Cổng chợ Đông").is_visible()
    assert not page.get_by_text("bẻ khóa xe đạp", exact=False).is_visible()
    check_fits_phone(page, "residents-status-closed")

    page.get_by_text("Xem nội dung bạn đã gửi").click()
    page.get_by_text("Cổng chợ Đông").wait_for()
    assert page.get_by_text("bẻ khóa xe đạp", exact=False).is_visible()
    thumb = sent.locator("img")
    thumb.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    check_fits_phone(page, "residents-status-open")
    resident.assert_no_errors()


def test_reply_choice_defaults_to_the_answer_and_the_button_says_what_it_sends(
    app, world, make_tip, resident
):
    code = _code()
    tip = make_tip(world.a1, follow_up_code=code)
    workflow.send_message(
        tip, world.user("leader_a1"), "Xe máy màu gì, anh/chị có nhớ không?", MessageKind.QUESTION
    )
    db.session.commit()
    reference, tip_id = tip.reference, tip.id
    page = resident.open()
    page.goto("/tra-cuu")
    follow_up(page, reference, code)

    answer = page.get_by_label("Câu trả lời cho câu hỏi trên")
    extra = page.get_by_label("Thông tin bổ sung khác")
    assert answer.is_checked() and not extra.is_checked()
    form = page.locator("form[data-reply]")
    assert form.locator("button").count() == 1
    assert form.get_by_role("button").inner_text() == "Gửi câu trả lời"
    extra.check()
    assert form.get_by_role("button").inner_text() == "Gửi thông tin bổ sung"
    answer.check()
    shoot(page, "residents-status-question")
    page.get_by_label("Tin nhắn của bạn").fill("Màu đỏ, biển 36B1.")
    post(page, "Gửi câu trả lời", status=303)
    page.get_by_text("Đã gửi câu trả lời của bạn.").wait_for()
    with app.app_context():
        kinds = db.session.scalars(
            select(TipMessage.kind).where(TipMessage.tip_id == tip_id).order_by(TipMessage.id)
        ).all()
    assert kinds == [MessageKind.QUESTION, MessageKind.REPLY]
    resident.assert_no_errors()


# --- item 11 ----------------------------------------------------------------------------------


def test_photos_are_previewed_and_one_can_be_left_out_before_sending(
    app, world, resident, tmp_path
):
    from PIL import Image

    second = tmp_path / "second.jpg"
    Image.new("RGB", (300, 500), (200, 40, 40)).save(second, "JPEG")
    page = resident.open(timezone_id="Europe/London")
    start_tip(page)
    # Now in Vietnam's time, whatever the phone's own time zone (this one is on UTC).
    before = to_local(utcnow())
    today = page.get_by_label("Ngày xảy ra").input_value()
    clock = page.get_by_label("Giờ (nếu nhớ)").input_value()
    after = to_local(utcnow())
    assert today in {f"{before:%Y-%m-%d}", f"{after:%Y-%m-%d}"}
    assert clock in {f"{before:%H:%M}", f"{after:%H:%M}"}
    description = "Bãi đất trống sau chợ có người tụ tập ban đêm, hai ảnh chụp."
    fill_tip(page, description)
    page.get_by_label("Ảnh (không bắt buộc)").set_input_files([make_photo(tmp_path), second])
    shots = page.locator("[data-photo-preview] li")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-photo-preview] img').length === 2"
    )
    assert shots.count() == 2
    check_fits_phone(page, "residents-form-preview")

    shots.first.get_by_role("button").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-photo-preview] li').length === 1"
    )
    assert page.get_by_label("Ảnh (không bắt buộc)").evaluate("el => el.files.length") == 1
    assert page.get_by_label("Ảnh (không bắt buộc)").evaluate("el => el.files[0].name") == (
        "second.jpg"
    )
    post(page, "Gửi tin báo")
    reference, _ = read_receipt(page)
    with app.app_context():
        tip = db.session.scalar(select(Tip).where(Tip.reference == reference))
        assert len(tip.photos) == 1
        assert tip.photos[0].height > tip.photos[0].width  # the portrait one was kept
        assert f"{tip.occurred_on:%Y-%m-%d}" == today
    resident.assert_no_errors()


# --- items 12 and 13 ----------------------------------------------------------------------------


def test_home_and_a_communes_figures_fit_the_phone(world, make_tip, resident):
    for unit, count in ((world.a1, 4), (world.a2, 3), (world.b1, 5)):
        for i in range(count):
            make_tip(unit, description=f"Tin thử số {i} cho số liệu công khai.")
    page = resident.open()
    page.goto("/")
    check_fits_phone(page, "residents-home")
    page.goto("/so-lieu?xa=A")
    page.locator("#parts").get_by_text("Thôn Đông").wait_for()
    assert page.locator("#parts").get_by_text("Phường Bắc Sơn").count() == 0
    check_fits_phone(page, "residents-figures-commune")
    resident.assert_no_errors()
