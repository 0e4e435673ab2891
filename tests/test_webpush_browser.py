"""Web Push in a real browser (Debian's Chromium, 360 px): the pages register their own
service workers and send the subscription the browser gives.

Headless Chromium cannot reach a real push service, so PushManager is stubbed in the page
(each registration's `pushManager` gives a subscription made here, whose keys the local
push receiver holds); everything else is real: the service worker registrations and their
scopes, Notification permission aside, the JSON and the CSRF header the script sends, the
server's checks, and a test push from the device list to the local receiver.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import PASSWORD
from tipline.alerts import push
from tipline.extensions import db

from .test_browser import CHROMIUM_ARGS
from .test_webpush import receiver  # noqa: F401 (a fixture)

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}

# Each registration's pushManager, stubbed: subscribe() hands out the next prepared
# subscription (kept per scope in localStorage, so a reload still finds it) and records
# the options the page passed.
STUB = """
(() => {
  const prepared = %s;
  Notification.requestPermission = () => Promise.resolve("granted");
  const load = (scope) => JSON.parse(localStorage.getItem("sub:" + scope) || "null");
  const wrap = (scope, json) => ({
    endpoint: json.endpoint,
    toJSON: () => json,
    unsubscribe: () => { localStorage.removeItem("sub:" + scope); return Promise.resolve(true); },
  });
  Object.defineProperty(ServiceWorkerRegistration.prototype, "pushManager", {
    get() {
      const scope = this.scope;
      return {
        getSubscription: () => Promise.resolve(load(scope) ? wrap(scope, load(scope)) : null),
        subscribe: (options) => {
          const used = Number(localStorage.getItem("used") || "0");
          localStorage.setItem("used", String(used + 1));
          const key = new Uint8Array(options.applicationServerKey);
          localStorage.setItem("key:" + scope, btoa(String.fromCharCode(...key)));
          localStorage.setItem("sub:" + scope, JSON.stringify(prepared[used]));
          return Promise.resolve(wrap(scope, prepared[used]));
        },
      };
    },
  });
})();
"""


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class Recorder:
    """Keeps what the pages send to the push routes (body and CSRF header)."""

    def __init__(self, app) -> None:
        self.app = app
        self.sent: list[tuple[str, str, dict, str | None]] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.endswith("/push") and environ["REQUEST_METHOD"] in ("POST", "DELETE"):
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            self.sent.append(
                (environ["REQUEST_METHOD"], path, json.loads(body), environ.get("HTTP_X_CSRFTOKEN"))
            )
        return self.app(environ, start_response)


@pytest.fixture
def live(app, world, receiver):  # noqa: F811
    recorder = Recorder(app)
    server = make_server("127.0.0.1", 0, recorder, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", recorder
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, base: str, prepared: list[dict]):
    context = browser.new_context(base_url=base, **PHONE)
    context.add_init_script(STUB % json.dumps(prepared))
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def _registration(page, scope: str) -> dict | None:
    return page.evaluate(
        """async (scope) => {
          const reg = await navigator.serviceWorker.getRegistration(scope);
          if (!reg) return null;
          const worker = reg.active || reg.waiting || reg.installing;
          return {scope: reg.scope, script: worker && worker.scriptURL};
        }""",
        scope,
    )


def _shot(page, name: str, selector: str = "[data-push], .push-devices") -> None:
    """The push section at 360 px, kept when TIPLINE_SCREENSHOTS names a folder (as
    test_browser.shoot keeps whole pages)."""
    section = page.locator(selector).last
    section.scroll_into_view_if_needed()
    folder = os.environ.get("TIPLINE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        section.screenshot(path=str(Path(folder) / f"webpush-{name}.png"))


def _server_key(page, scope: str) -> str:
    raw = page.evaluate("(s) => localStorage.getItem('key:' + s)", scope)
    return base64.urlsafe_b64encode(base64.b64decode(raw)).decode().rstrip("=")


def test_staff_page_registers_its_worker_and_sends_the_subscription(
    app,
    world,
    live,
    browser,
    receiver,  # noqa: F811
):
    base, recorder = live
    subscription = receiver.subscription("ok")
    page = _page(browser, base, [subscription])
    page.goto("/staff/login")
    page.get_by_label("Tên đăng nhập").fill("leader_a1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/staff/**")
    page.goto("/staff/settings/notifications")
    page.get_by_role("button", name="Nhận thông báo trên điện thoại này").click()
    page.get_by_role("button", name="Tắt thông báo trên điện thoại này").wait_for()
    page.get_by_role("button", name="Gửi thử").wait_for()  # the page reloaded with the device

    registration = _registration(page, f"{base}/staff/")
    assert registration == {"scope": f"{base}/staff/", "script": f"{base}/staff/push-sw.js"}
    method, path, body, csrf = recorder.sent[0]
    assert (method, path, body) == ("POST", "/staff/push", subscription)
    assert csrf  # the page's token in X-CSRFToken
    with app.app_context():
        assert push.vapid_public_key() == _server_key(page, f"{base}/staff/")
        assert len(push.staff_devices(world.users["leader_a1"].id)) == 1
    _shot(page, "staff-devices", ".push-devices")

    page.get_by_role("button", name="Gửi thử").click()
    page.get_by_text("Đã gửi thông báo thử").wait_for()
    [got] = receiver.wait_for(1)
    assert got.payload["title"] == "Thông báo thử"

    page.get_by_role("button", name="Tắt thông báo trên điện thoại này").click()
    page.get_by_role("button", name="Nhận thông báo trên điện thoại này").wait_for()
    assert recorder.sent[-1][:3] == (
        "DELETE",
        "/staff/push",
        {"endpoint": subscription["endpoint"]},
    )
    with app.app_context():
        assert push.staff_devices(world.users["leader_a1"].id) == []


def test_a_resident_opts_in_from_the_receipt_with_a_scope_of_the_tips_own(
    app,
    world,
    live,
    browser,
    receiver,  # noqa: F811
):
    base, recorder = live
    first, second = receiver.subscription("ok"), receiver.subscription("ok")
    page = _page(browser, base, [first, second])
    page.goto("/gui-tin?xa=A")
    page.get_by_label("Thôn, tổ dân phố").select_option(label="Thôn Đông")
    page.get_by_label("Trộm cắp tài sản").check()
    page.get_by_label("Chuyện gì đã xảy ra?").fill("Có người lạ lấy trộm xe máy trước nhà văn hóa.")
    page.get_by_role("button", name="Gửi tin báo").click()
    page.get_by_role("heading", name="Đã nhận tin báo của bạn").wait_for()
    reference = page.locator("#reference").inner_text().strip()
    code = page.locator("#follow-up-code").inner_text().strip()
    section = page.locator("[data-push]")
    section.wait_for()
    scope = base + section.get_attribute("data-scope")
    _shot(page, "receipt-optin")

    page.get_by_role("button", name="Báo cho tôi khi có trả lời").click()
    page.get_by_role("button", name="Tắt thông báo").wait_for()
    registration = _registration(page, scope)
    assert registration == {"scope": scope, "script": scope + "sw.js"}
    method, path, body, _ = recorder.sent[0]
    assert (method, path) == ("POST", "/tra-cuu/push")
    assert body == {"subscription": first, "reference": reference, "code": code}
    with app.app_context():
        assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 1
    _shot(page, "receipt-optin-on")

    # A second tip from the same phone: another scope, another registration, another row.
    page.goto("/gui-tin?xa=A")
    page.get_by_label("Thôn, tổ dân phố").select_option(label="Thôn Đông")
    page.get_by_label("Trộm cắp tài sản").check()
    page.get_by_label("Chuyện gì đã xảy ra?").fill("Lại có người lạ đi quanh xóm lúc nửa đêm.")
    page.get_by_role("button", name="Gửi tin báo").click()
    page.get_by_role("heading", name="Đã nhận tin báo của bạn").wait_for()
    other_scope = base + page.locator("[data-push]").get_attribute("data-scope")
    assert other_scope != scope
    page.get_by_role("button", name="Báo cho tôi khi có trả lời").click()
    page.get_by_role("button", name="Tắt thông báo").wait_for()
    assert _registration(page, other_scope)["scope"] == other_scope
    assert recorder.sent[-1][2]["subscription"] == second
    with app.app_context():
        tips = set(db.session.scalars(select(push.PushSubscription.tip_id)))
        assert len(tips) == 2

    # The status page of the first tip knows it is on, and turns it off.
    page.goto("/tra-cuu")
    page.get_by_label("Mã số tin báo").fill(reference)
    page.get_by_label("Mã tra cứu").fill(code)
    page.get_by_role("button", name="Xem tình trạng").click()
    page.get_by_role("heading", name=f"Tin báo {reference}").wait_for()
    page.get_by_role("button", name="Tắt thông báo").wait_for()
    _shot(page, "status-optin-on")
    page.get_by_role("button", name="Tắt thông báo").click()
    page.get_by_role("button", name="Báo cho tôi khi có trả lời").wait_for()
    assert recorder.sent[-1][:3] == ("DELETE", "/tra-cuu/push", {"endpoint": first["endpoint"]})
    with app.app_context():
        assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 1
