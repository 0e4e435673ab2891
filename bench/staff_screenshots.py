"""Screenshots of every staff page at 360×740 into docs/screenshots/, and the staff inbox's
page weight on a phone (first visit and repeat visit).

    .venv/bin/python bench/staff_screenshots.py

Runs the demo site (bench/demo_site.py) and signs in with each demo account (password
`tipline-demo`) in Debian's Chromium at the size of a cheap Android phone, the way a
village leader, the commune police, the commune committee, a province officer and an
administrator open their pages. Weights are the bytes Chromium received (the encoded
length of every response, Network.loadingFinished), as for the resident pages in
bench/RESULTS-lighthouse.md.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import demo_site  # noqa: E402
from screenshots import ARGS, PHONE  # noqa: E402 - bench/screenshots.py: the same phone

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "tipline-demo"  # noqa: S105 (the demo accounts' published password)

# (account, [(name, path or action)]): every page the account's menus open.
TIP = "first-tip"  # the first tip of the account's inbox
FILTERS = "filters-open"
TABLE = "report-table"
PAGES = [
    (
        "totruong",
        [
            ("village-home", "/staff/thon-cua-toi"),
            ("inbox", "/staff/"),
            ("inbox-filters", FILTERS),
            ("inbox-search-trom-cap", "/staff/?q=trom+cap"),
            ("tip", TIP),
            ("record", "/staff/record"),
            ("alerts", "/staff/thong-bao/"),
            ("account", "/staff/tai-khoan-cua-toi"),
            ("mail-settings", "/staff/settings/notifications"),
            ("password", "/staff/tai-khoan/mat-khau"),
            ("two-factor", "/staff/tai-khoan/hai-buoc"),
        ],
    ),
    (
        "congan",
        [
            ("police-inbox", "/staff/"),
            ("police-tip", TIP),
            ("police-account", "/staff/tai-khoan-cua-toi"),
            ("templates", "/staff/templates"),
            ("reports", "/staff/bao-cao/"),
            ("reports-villages", TABLE),
            ("review", "/staff/bao-cao/so-ket"),
            ("teams", "/staff/to-chuc/"),
            ("police-accounts", "/admin/users"),
            ("identity-log", "/admin/identity-log"),
        ],
    ),
    ("bandaoxa", [("committee-indicators", "/staff/bao-cao/chi-tieu")]),
    ("tinh", [("officer-inbox", "/staff/"), ("officer-reports", "/staff/bao-cao/")]),
    (
        "quantri",
        [
            ("admin-users", "/admin/users"),
            ("admin-new-user", "/admin/users/new"),
            ("admin-categories", "/admin/categories"),
            ("admin-api-keys", "/admin/api-keys"),
            ("admin-audit", "/admin/audit"),
            ("admin-letterheads", "/admin/letterheads"),
        ],
    ),
]


def sign_in(page, username: str) -> None:
    page.goto("/staff/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/staff/login" not in url)
    page.wait_for_load_state("load")


def weigh(browser, base: str, username: str, path: str) -> tuple[int, int]:
    """Bytes received for `path`, signed in, on a first visit (nothing cached: the sign-in
    goes through the context's request API, which loads no page) and on a repeat visit."""
    context = browser.new_context(**PHONE, base_url=base)
    form = context.request.get("/staff/login").text()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', form
    )
    context.request.post(
        "/staff/login",
        form={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        max_redirects=0,
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    received: list[int] = []
    cdp.on("Network.loadingFinished", lambda e: received.append(int(e["encodedDataLength"])))
    page.goto(path, wait_until="networkidle")
    first = sum(received)
    received.clear()
    page.goto(path, wait_until="networkidle")
    repeat = sum(received)
    context.close()
    return first, repeat


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[str] = []
    number = 21  # the resident pages are 01-20
    with demo_site.serve() as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        login = browser.new_context(**PHONE, base_url=base).new_page()
        login.goto("/staff/login")
        login.screenshot(path=str(OUT / f"{number}-staff-login.png"))
        shots.append(f"{number}-staff-login")
        for username, pages in PAGES:
            context = browser.new_context(**PHONE, base_url=base)
            page = context.new_page()
            sign_in(page, username)
            for name, target in pages:
                number += 1
                if target == TIP:
                    page.goto("/staff/")
                    page.locator(".tip-card a").first.click()
                elif target == FILTERS:
                    page.goto("/staff/")
                    page.locator("details.filter-sheet summary").click()
                elif target == TABLE:
                    page.goto("/staff/bao-cao/")
                    page.locator("#units-title").scroll_into_view_if_needed()
                else:
                    answer = page.goto(target)
                    if answer is None or answer.status != 200:
                        raise RuntimeError(f"{username} {target}: {answer and answer.status}")
                page.wait_for_load_state("load")
                page.evaluate("() => document.activeElement && document.activeElement.blur()")
                file = f"{number}-staff-{name}"
                page.screenshot(path=str(OUT / f"{file}.png"))
                shots.append(file)
            context.close()
        weights = {
            "village leader's inbox `/staff/`": weigh(browser, base, "totruong", "/staff/"),
            "village leader's page `/staff/thon-cua-toi`": weigh(
                browser, base, "totruong", "/staff/thon-cua-toi"
            ),
            "commune police inbox `/staff/`": weigh(browser, base, "congan", "/staff/"),
        }
        browser.close()
    print(f"{len(shots)} screenshots in {OUT.relative_to(ROOT)}: {', '.join(shots)}")
    print("\n| page | first visit | repeat visit |\n|---|---:|---:|")
    for name, (first, repeat) in weights.items():
        print(f"| {name} | {first / 1024:.1f} KB | {repeat / 1024:.1f} KB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
