"""Lighthouse (mobile, default throttling) on the home, submit and status pages of the demo.

    cd bench/lighthouse && npm ci && cd ../.. && .venv/bin/python bench/lighthouse/run.py

Writes the four category scores and the transfer sizes into bench/RESULTS-lighthouse.md,
with the bytes a real Chromium transfers on a first and on a repeat visit of the submit page.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import demo_site  # noqa: E402

OUT = ROOT / "bench" / "out" / "lighthouse"
RESULTS = ROOT / "bench" / "RESULTS-lighthouse.md"
FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --disable-quic --no-first-run"
)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 90}


def lighthouse(url: str, output: Path) -> dict:
    env = dict(os.environ, CHROME_PATH=shutil.which("chromium") or "chromium")
    subprocess.run(
        [
            "npx", "--no-install", "lighthouse", url, "--form-factor=mobile", "--quiet",
            "--output=json", f"--output-path={output}", f"--chrome-flags={FLAGS}",
        ],
        cwd=HERE, env=env, check=True,
    )  # fmt: skip
    return json.loads(output.read_text())


def status_flow(base: str, reference: str, code: str, output: Path) -> dict:
    env = dict(os.environ, CHROME_PATH=shutil.which("chromium") or "chromium")
    subprocess.run(
        ["node", "status-flow.mjs", base, reference, code, str(output)],
        cwd=HERE, env=env, check=True,
    )  # fmt: skip
    return json.loads(output.read_text())


def summary(report: dict) -> dict:
    scores = {c: round((report["categories"][c]["score"] or 0) * 100) for c in CATEGORIES}
    requests = report["audits"]["network-requests"]["details"]["items"]
    by_type: dict[str, int] = {}
    for item in requests:
        kind = item.get("resourceType") or "Other"
        by_type[kind] = by_type.get(kind, 0) + int(item.get("transferSize") or 0)
    failed = [
        (audit["id"], audit["title"])
        for audit in report["audits"].values()
        if audit.get("score") is not None
        and audit["score"] < 1
        and audit.get("scoreDisplayMode") in {"binary", "numeric"}
        and any(
            audit["id"] == ref["id"]
            for c in ("accessibility", "best-practices", "seo")
            for ref in report["categories"][c]["auditRefs"]
            if ref.get("weight")
        )
    ]
    return {
        "scores": scores,
        "total": int(report["audits"]["total-byte-weight"]["numericValue"]),
        "requests": len(requests),
        "by_type": by_type,
        "failed": failed,
        "fcp": report["audits"]["first-contentful-paint"]["displayValue"],
        "lcp": report["audits"]["largest-contentful-paint"]["displayValue"],
    }


def browser_visits(url: str) -> tuple[int, int]:
    """Bytes Chromium takes off the network for a first and then a repeat visit of url."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"), args=FLAGS.split()[1:]
        )
        # Without the service worker, whose own fetches the page's network log does not show:
        # this is the plain HTTP-cache repeat visit, the larger of the two.
        context = browser.new_context(
            viewport={"width": 360, "height": 740}, is_mobile=True, service_workers="block"
        )
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        received: list[int] = []
        cdp.on("Network.loadingFinished", lambda e: received.append(int(e["encodedDataLength"])))
        page.goto(url, wait_until="networkidle")
        first = sum(received)
        received.clear()
        page.goto(url, wait_until="networkidle")
        repeat = sum(received)
        browser.close()
    return first, repeat


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with demo_site.serve() as base:
        commune = demo_site.first_commune_code(base)
        reference, code = demo_site.send_tip(base, commune)
        pages = {
            "home `/`": lighthouse(f"{base}/", OUT / "home.json"),
            f"submit `/gui-tin?xa={commune}`": lighthouse(
                f"{base}/gui-tin?xa={commune}", OUT / "submit.json"
            ),
            "status (after `POST /tra-cuu`)": status_flow(
                base, reference, code, OUT / "status.json"
            ),
        }
        first, repeat = browser_visits(f"{base}/gui-tin?xa={commune}")
    rows = {name: summary(report) for name, report in pages.items()}
    version = next(iter(pages.values()))["lighthouseVersion"]
    lines = [
        "# Lighthouse: resident pages",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with Lighthouse {version}, Debian's "
        "Chromium, mobile form factor, default (simulated slow 4G) throttling, on the demo "
        "database served by gunicorn (2 workers) on this machine.",
        "",
        "    cd bench/lighthouse && npm ci && cd ../.. && .venv/bin/python bench/lighthouse/run.py",
        "",
        "Targets: performance ≥ 95, accessibility 100, best practices 100, SEO ≥ 90 "
        "(home and submit; the status page is rightly `noindex`).",
        "",
        "| page | performance | accessibility | best practices | SEO | FCP | LCP "
        "| requests | transferred |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        s = row["scores"]
        lines.append(
            f"| {name} | {s['performance']} | {s['accessibility']} | {s['best-practices']} "
            f"| {s['seo']} | {row['fcp']} | {row['lcp']} | {row['requests']} "
            f"| {row['total'] / 1024:.1f} KB |"
        )
    lines += ["", "Transfer by resource type (bytes):", ""]
    for name, row in rows.items():
        parts = ", ".join(f"{k} {v:,}" for k, v in sorted(row["by_type"].items()))
        lines.append(f"- {name}: {parts}")
    lines += [
        "",
        "Submit page in Chromium itself (Network.loadingFinished, encoded bytes): "
        f"first visit **{first / 1024:.1f} KB** (budget 50 KB), repeat visit "
        f"**{repeat / 1024:.1f} KB** (budget 5 KB).",
    ]
    misses = [(n, a) for n, row in rows.items() for a in row["failed"]]
    if misses:
        lines += ["", "Audits not passed:", ""]
        lines += [f"- {n}: `{aid}` {title}" for n, (aid, title) in misses]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    below = [
        (n, c)
        for n, row in rows.items()
        for c, target in TARGETS.items()
        if row["scores"][c] < target and not (c == "seo" and n.startswith("status"))
    ]
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
