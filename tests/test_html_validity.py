"""Every server-rendered page, in both languages, passes the Nu HTML checker (vnu.jar).

The pages are those of the authorization matrix (one line per route): each GET route is
fetched as someone it answers 200 to, in Vietnamese and under /en/, plus the states a
person meets on the way (a form sent back with errors, the 404 page). The checker is the
pinned vnu-jar of tools/vnu (`cd tools/vnu && npm ci`) and needs Java
(`apt-get install -y default-jre-headless`); without either the test is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tipline.extensions import db

from . import test_authz_matrix as matrix
from .conftest import PASSWORD
from .test_authz_matrix import RULES, _url
from .test_messages import new_code, reply, sign_in, staff_message

ROOT = Path(__file__).resolve().parents[1]
JAR = Path(
    os.environ.get("TIPLINE_VNU_JAR", ROOT / "tools/vnu/node_modules/vnu-jar/build/dist/vnu.jar")
)
JAVA = shutil.which("java")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(JAVA is None, reason="no java: apt-get install -y default-jre-headless"),
    pytest.mark.skipif(not JAR.exists(), reason=f"no vnu.jar at {JAR}: cd tools/vnu && npm ci"),
]  # fmt: skip


@pytest.fixture
def scene(world, make_tip):
    """The authorization matrix's tip, photo and team: every route's URL can be built."""
    return matrix.scene.__wrapped__(world, make_tip)


# Who to be on a page: a visitor where one may, else the first of these it answers 200 to.
VIEWERS = ("police_a", "admin", "leader_a1", "committee_a", "officer", "member_a1")
# Pages seen by every role: the navigation differs.
EVERY_ROLE = ("staff.inbox",)


def _pages(app, scene) -> list[tuple[str | None, str]]:
    """(account or None, URL) of every GET page of the URL map."""
    pages = []
    for (endpoint, method), rule in RULES.items():
        if method != "GET":
            continue
        url = _url(app, endpoint, rule, scene)
        if rule.anonymous == 200:
            pages.append((None, url))
            continue
        who = [user for user in VIEWERS if rule.users.get(user) == 200]
        if endpoint in EVERY_ROLE:
            pages += [(user, url) for user in who]
        elif who:
            pages.append((who[0], url))
    return pages


def _client(app, user):
    client = app.test_client()
    if user is not None:
        response = client.post("/staff/login", data={"username": user, "password": PASSWORD})
        assert response.status_code == 302, user
    return client


def _check(files: list[Path]) -> list[dict]:
    result = subprocess.run(
        [JAVA, "-Xss2m", "-jar", str(JAR), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]


def test_every_page_is_valid_html_in_both_languages(app, world, make_tip, login, scene, tmp_path):
    # A tip with a conversation: the staff page and the tipster's status page show both.
    code = new_code()
    talked = make_tip(world.a2, description="Tụ tập đánh bạc < 3 người.", follow_up_code=code)
    staff_message(login, talked, "Khoảng mấy giờ?", who="leader_a2")
    clients = {}
    documents: dict[Path, str] = {}

    def keep(user, url, response, note=""):
        if not response.content_type.startswith("text/html"):
            return
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{user}_{url}_{note}")[:150]
        path = tmp_path / f"{len(documents):03d}_{name}.html"
        path.write_bytes(response.get_data())
        documents[path] = f"{url} ({user or 'visitor'}{', ' + note if note else ''})"

    for user, url in _pages(app, scene):
        client = clients.setdefault(user, _client(app, user))
        for prefix in ("", "/en"):
            response = client.get(prefix + url)
            assert response.status_code == 200, (user, prefix + url, response.status_code)
            keep(user, prefix + url, response)
    # Forms sent back with errors, the error page and the tipster's pages, in both languages.
    visitor = _client(app, None)
    for prefix in ("", "/en"):
        tipster = app.test_client()
        keep(None, prefix + "/tra-cuu", sign_in(tipster, talked.reference, code, prefix))
        reply(tipster, "Khoảng 9 giờ tối.", prefix=prefix)
        keep(None, prefix + "/tra-cuu/tin", tipster.get(prefix + "/tra-cuu/tin"), "tipster")
        keep(None, prefix + "/khong-co", visitor.get(prefix + "/khong-co"), "404")
        sent = visitor.post(prefix + f"/gui-tin?xa={world.commune_a.code}", data={})
        keep(None, prefix + "/gui-tin", sent, "errors")
        failed = visitor.post(prefix + "/staff/login", data={"username": "x", "password": "y"})
        keep(None, prefix + "/staff/login", failed, "errors")
        admin = clients.setdefault("admin", _client(app, "admin"))
        keep(
            "admin", prefix + "/admin/users/new", admin.post(prefix + "/admin/users/new"), "errors"
        )
        leader = clients.setdefault("leader_a2", _client(app, "leader_a2"))
        page = f"{prefix}/staff/tips/{talked.public_id}"
        keep("leader_a2", page, leader.get(page), "conversation")
    db.session.rollback()
    assert len(documents) > 60, "the page list should cover the app"

    by_name = {path.name: page for path, page in documents.items()}
    errors: dict[str, list[str]] = {}
    for message in _check(sorted(documents)):
        if message.get("type") == "error":
            page = by_name[message["url"].rsplit("/", 1)[-1]]
            where = f"{page} line {message.get('lastLine')}"
            errors.setdefault(message["message"], []).append(where)
    report = [
        f"{len(pages)}× {text}\n    " + "\n    ".join(pages[:6]) for text, pages in errors.items()
    ]
    assert errors == {}, f"{sum(map(len, errors.values()))} errors:\n" + "\n".join(report)
