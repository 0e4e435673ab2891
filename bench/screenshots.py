"""Screenshots of every resident page at 360×740 (a cheap Android phone) into docs/screenshots/.

    .venv/bin/python bench/screenshots.py

Runs the demo site (bench/demo_site.py) and drives Debian's Chromium through it the way a
resident does, in Vietnamese and in English, online and offline, with and without errors.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import demo_site  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}
FOCUS = "Phường Hàm Rồng"  # the demo accounts' ward
QUESTION = "Nhóm đó thường tụ tập ở đoạn nào của đường liên thôn?"
ANSWER = "Đoạn từ cầu Bến đến nhà văn hóa, khoảng 23 giờ."
DESCRIPTION = "Nhóm thanh niên tụ tập đua xe, nẹt pô sau 11 giờ đêm ở đường liên thôn."


def _photo(path: Path) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (90, 140, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 300, 540, 420), fill=(60, 60, 60))
    draw.ellipse((250, 80, 390, 220), fill=(240, 200, 40))
    image.save(path, "JPEG", quality=80)


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[str] = []
    with demo_site.serve() as base, sync_playwright() as p:
        commune = demo_site.first_commune_code(base)
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        context = browser.new_context(**PHONE, base_url=base)
        page = context.new_page()

        def shot(name: str) -> None:
            page.wait_for_load_state("load")
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            page.screenshot(path=str(OUT / f"{name}.png"))
            shots.append(name)

        page.goto("/")
        shot("01-home")
        page.goto("/gui-tin")
        shot("02-choose-commune")
        page.goto(f"/gui-tin?xa={commune}")
        shot("03-form")
        page.get_by_text("Ẩn danh", exact=True).scroll_into_view_if_needed()
        shot("04-form-identity")
        page.get_by_role("button", name="Gửi tin báo", exact=True).click()
        page.get_by_role("alert").wait_for()
        shot("05-form-with-errors")
        page.get_by_label("Chuyện gì đã xảy ra?").scroll_into_view_if_needed()
        shot("06-error-next-to-field")
        page.locator("input[name=category]").first.check()
        page.get_by_label("Chuyện gì đã xảy ra?").fill(DESCRIPTION)
        page.get_by_role("button", name="Gửi tin báo", exact=True).click()
        page.locator("#follow-up-code").wait_for()
        reference = page.locator("#reference").inner_text().strip()
        code = page.locator("#follow-up-code").inner_text().strip()
        shot("07-receipt")
        page.goto("/tra-cuu")
        shot("08-follow-up")
        page.get_by_label("Mã số tin báo").fill(reference)
        page.get_by_label("Mã tra cứu").fill(code)
        page.get_by_role("button", name="Xem tình trạng").click()
        page.locator(".lead .status").wait_for()
        shot("09-status")
        # What was sent, one tap away (closed on a shared phone until tapped).
        page.get_by_text("Xem nội dung bạn đã gửi").click()
        page.locator("#da-gui").scroll_into_view_if_needed()
        shot("60-status-what-was-sent")

        # Commune police of the demo's ward ask about a tip sent there; the resident reads
        # the question on the status page and answers.
        reference, code = demo_site.send_tip(base, demo_site.commune_code(base, FOCUS))
        page.goto("/tra-cuu")
        page.get_by_label("Mã số tin báo").fill(reference)
        page.get_by_label("Mã tra cứu").fill(code)
        page.get_by_role("button", name="Xem tình trạng").click()
        page.locator(".lead .status").wait_for()
        staff = browser.new_context(**PHONE, base_url=base)
        desk = staff.new_page()
        desk.goto("/staff/login")
        desk.get_by_label("Tên đăng nhập").fill("congan")
        desk.get_by_label("Mật khẩu").fill("tipline-demo")  # the demo accounts' password
        desk.locator("main form button[type=submit]").click()
        desk.goto(f"/staff/?q={reference}")
        desk.get_by_role("link", name=reference).first.click()
        desk.locator("#message-kind").select_option("question")
        desk.locator("#message-body").fill(QUESTION)
        desk.get_by_role("button", name="Gửi tin nhắn").click()
        desk.get_by_text(QUESTION).first.wait_for()
        page.reload()
        page.locator("#tin-nhan").scroll_into_view_if_needed()
        shot("16-status-question")
        page.get_by_label("Tin nhắn của bạn").fill(ANSWER)
        page.get_by_role("button", name="Gửi câu trả lời").click()
        page.get_by_text(ANSWER).first.wait_for()
        page.locator("#tin-nhan").scroll_into_view_if_needed()
        shot("17-status-answered")
        desk.reload()
        desk.locator("#messages").scroll_into_view_if_needed()
        desk.wait_for_load_state("load")
        desk.screenshot(path=str(OUT / "18-staff-conversation.png"))
        shots.append("18-staff-conversation")
        staff.close()

        # Offline: the form from the service worker, the tip kept on the phone.
        page.goto(f"/gui-tin?xa={commune}")
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        context.set_offline(True)
        page.reload()
        page.locator("input[name=category]").first.check()
        page.get_by_label("Chuyện gì đã xảy ra?").fill(DESCRIPTION)
        page.get_by_role("button", name="Gửi tin báo", exact=True).click()
        page.locator("#follow-up-code").wait_for()
        shot("10-offline-saved-on-phone")
        context.set_offline(False)
        page.wait_for_function(
            "() => /^TL-/.test(document.querySelector('#reference').textContent)"
        )
        shot("11-offline-tip-sent")

        page.goto("/khong-co-trang-nay")
        shot("12-not-found")

        # Photos chosen on the form: previewed, each with a button to leave it out.
        photo = OUT.parent / "screenshot-photo.jpg"
        _photo(photo)
        page.goto(f"/gui-tin?xa={commune}")
        page.get_by_label("Ảnh (không bắt buộc)").set_input_files(str(photo))
        page.wait_for_function("() => document.querySelector('[data-photo-preview] img')")
        page.locator("[data-photo-preview]").scroll_into_view_if_needed()
        shot("61-form-photo-preview")
        photo.unlink()

        # A commune's figures list its villages.
        page.goto(f"/so-lieu?xa={demo_site.commune_code(base, FOCUS)}")
        page.locator("#parts-title").evaluate("el => el.scrollIntoView()")
        shot("62-figures-villages")

        page.goto("/")
        page.get_by_role("link", name="English").click()
        page.wait_for_url("**/en/")
        shot("13-en-home")
        page.goto(f"/en/gui-tin?xa={commune}")
        shot("14-en-form")
        page.goto("/en/tra-cuu")
        shot("15-en-follow-up")
        page.goto("/rieng-tu")
        shot("19-privacy")
        page.goto("/en/rieng-tu")
        shot("20-en-privacy")
        browser.close()
    print("\n".join(str(OUT / f"{name}.png") for name in shots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
