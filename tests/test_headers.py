"""Security headers, cookies, the same-origin check for posts, and no debugger anywhere."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tipline.tips.services import new_submission_key

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[1]


def _directives(csp: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in csp.split(";")
        if part.strip()
    }


def _pages(client, login, make_tip, world) -> dict[str, object]:
    tip = make_tip(world.a1)
    staff = login("police_a")
    return {
        "/": client.get("/"),
        "/gui-tin": client.get("/gui-tin"),
        "/gui-tin?xa=A": client.get("/gui-tin?xa=A"),
        "/tra-cuu": client.get("/tra-cuu"),
        "/staff/login": client.get("/staff/login"),
        "/staff/": staff.get("/staff/"),
        "/staff/tips/<id>": staff.get(f"/staff/tips/{tip.public_id}"),
        "/khong-co": client.get("/khong-co"),
        "/healthz": client.get("/healthz"),
    }


def test_every_page_sends_the_security_headers(client, login, make_tip, world):
    for path, response in _pages(client, login, make_tip, world).items():
        headers = response.headers
        csp = _directives(headers["Content-Security-Policy"])
        assert csp["default-src"] == "'self'", path
        assert csp["frame-ancestors"] == "'none'", path
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'", path
        for directive in ("script-src", "style-src"):
            assert csp[directive] == "'self'", (path, directive)  # no inline, no eval
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert headers["X-Frame-Options"] == "DENY", path
        policy = headers["Permissions-Policy"]
        # The tip form's pages may record a voice note (issue 21): the microphone for this
        # site, and blob: media for the preview; every other page denies both.
        recording = path.startswith("/gui-tin")
        microphone = "microphone=(self)" if recording else "microphone=()"
        for feature in ("camera=()", microphone, "interest-cohort=()"):
            assert feature in policy, (path, policy)
        assert csp.get("media-src") == ("'self' blob:" if recording else None), path
        # Outside production: no HSTS (it would pin a developer's localhost to HTTPS).
        assert "Strict-Transport-Security" not in headers, path


def test_pages_carry_no_inline_script_or_style(client, login, make_tip, world):
    """The CSP forbids inline code; the templates must not need any."""
    for path, response in _pages(client, login, make_tip, world).items():
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        assert "<style" not in html, path
        assert not re.search(r"\sstyle\s*=", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        for tag in re.findall(r"<script\b[^>]*>", html):
            # Code only from files; a JSON data block is never run.
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert "javascript:" not in html.lower(), path


def test_staff_session_cookie_is_httponly_and_samesite(app, world):
    client = app.test_client()
    response = client.post("/staff/login", data={"username": "leader_a1", "password": PASSWORD})
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development serves plain HTTP on localhost


def test_resident_pages_set_no_cookie(client, world):
    assert "Set-Cookie" not in client.get("/gui-tin?xa=A").headers
    response = client.post("/tra-cuu", data={"reference": "TL-AAAA-BBBB", "code": "A" * 16})
    assert "Set-Cookie" not in response.headers


def _production_app(monkeypatch, tmp_path, other_app, app):
    monkeypatch.setenv("TIPLINE_ENV", "production")
    return other_app(
        {
            "SECRET_KEY": "p" * 48,
            "TIPLINE_DATA_KEY": Fernet.generate_key().decode(),
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "TIPLINE_ROOT_UNIT": "T",
            "RATELIMIT_ENABLED": False,
        }
    )


def test_production_forces_https_and_sends_hsts(monkeypatch, tmp_path, other_app, app, world):
    prod = _production_app(monkeypatch, tmp_path, other_app, app)
    client = prod.test_client()
    plain = client.get("/tra-cuu", base_url="http://localhost")
    assert plain.status_code in (301, 302) and plain.location.startswith("https://")
    secure = client.get("/tra-cuu", base_url="https://localhost")
    assert secure.status_code == 200
    hsts = secure.headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000
    assert "includeSubDomains" in hsts


def test_production_login_works_without_a_referer_and_cookies_are_secure(
    monkeypatch, tmp_path, other_app, app, world
):
    """no-referrer means no Referer: the CSRF check must still let our own form through."""
    prod = _production_app(monkeypatch, tmp_path, other_app, app)
    client = prod.test_client()
    base = "https://localhost"
    page = client.get("/staff/login", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "username": "leader_a1", "password": PASSWORD}
    # What a browser sends for our own form under Referrer-Policy: no-referrer.
    same_site = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/staff/login", data=data, base_url=base, headers=same_site)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # From a page served over plain HTTP (changeable by anyone on the path): refused.
    client2 = prod.test_client()
    page = client2.get("/staff/login", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data["csrf_token"] = token
    insecure = client2.post(
        "/staff/login", data=data, base_url=base, headers={"Origin": "http://localhost"}
    )
    assert insecure.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_posts_are_refused_everywhere(app, login, world, make_tip, headers):
    tip = make_tip(world.a1)
    staff = login("leader_a1")
    key = new_submission_key()
    posts = [
        (app.test_client(), "/gui-tin?xa=A", {"submission_key": key}),
        (app.test_client(), "/tra-cuu", {"reference": "TL-AAAA-BBBB", "code": "A" * 16}),
        (app.test_client(), "/staff/login", {"username": "leader_a1", "password": PASSWORD}),
        (staff, f"/staff/tips/{tip.public_id}/note", {"body": "Ghi chú giả mạo"}),
        (staff, f"/staff/tips/{tip.public_id}/act", {"action": "triage", "version": 1}),
        (staff, "/staff/logout", {}),
    ]
    for client, url, data in posts:
        response = client.post(url, data=data, headers=headers)
        assert response.status_code == 403, (url, headers, response.status_code)
    assert staff.get("/staff/").status_code == 200  # still logged in: logout was refused


def test_same_origin_posts_pass_the_check(app, login, world, make_tip):
    tip = make_tip(world.a1)
    staff = login("leader_a1")
    for headers in (
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # what no-referrer makes
        {"Origin": "null"},  # a browser older than Sec-Fetch-Site: the CSRF token decides
        {"Sec-Fetch-Site": "none"},
        {},
    ):
        response = staff.post(
            f"/staff/tips/{tip.public_id}/note", data={"body": "Đã gọi điện"}, headers=headers
        )
        assert response.status_code == 303, headers


def test_production_refuses_debug_mode(monkeypatch, tmp_path, other_app, app):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="Debug"):
        _production_app(monkeypatch, tmp_path, other_app, app)


def test_no_debugger_console_and_no_traceback_in_errors(client, world, app, other_app):
    assert app.debug is False
    for path in ("/console", "/?__debugger__=yes&cmd=resource&f=style.css"):
        response = client.get(path)
        assert response.status_code in (200, 404)
        for marker in (b"Werkzeug Debugger", b"debugger.js", b"EVALEX", b"CONSOLE_MODE"):
            assert marker not in response.data, (path, marker)
    failing = other_app({key: app.config[key] for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI",
                         "UPLOAD_DIR", "TIPLINE_ROOT_UNIT")})  # fmt: skip

    def explode():
        raise RuntimeError("secret internals /etc/tipline")

    failing.add_url_rule("/boom", view_func=explode)
    response = failing.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "secret internals" not in body
    assert "Hệ thống đang gặp sự cố" in body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_shows_no_server_version(tmp_path):
    """The real server as deployed (gunicorn.conf.py) names no version in its answers."""
    port = _free_port()
    env = {
        **os.environ,
        "TIPLINE_INSTANCE_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "1",
        "GUNICORN_ACCESS_LOG": "/dev/null",
    }
    env.pop("TIPLINE_ENV", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The master listens before it boots a worker; a request made then waits in the
        # socket's backlog until the worker takes it.
        for line in server.stderr:
            if "Booting worker" in line:
                break
        else:
            pytest.fail("gunicorn exited before booting a worker")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/tra-cuu", timeout=30) as answer:
                headers = answer.headers
        except urllib.error.HTTPError as error:
            headers = error.headers
        server_header = headers.get("Server", "")
        assert not re.search(r"\d", server_header), server_header
        assert "Python" not in server_header and "Werkzeug" not in server_header
        assert "X-Powered-By" not in headers
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_a_nul_in_the_address_is_a_clear_400(client, world):
    for url in ("/gui-tin?xa=%00", "/gui-tin?xa=A%00", "/staff/login?next=%00"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "tel:113" in response.get_data(as_text=True)  # the friendly error page
