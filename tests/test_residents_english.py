"""The English site is English (issue 17, item 7): every name kept in the database has its
English text (enum labels through gettext, categories through `name_en`), and a walk over
every English page a resident reaches, and every page one staff account reaches, finds no
Vietnamese word that is not a proper name (places, people) or the language switch.

The English catalogue is filled from the translators' lists at the end of each round, so a
new string fails the walk until it has its English: that is the point of the walk.
"""

from __future__ import annotations

import importlib.util
import re
import secrets
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from tipline.core.enums import LabelledEnum
from tipline.core.timeutil import local_today
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import Category, MessageKind
from tipline.tips.services import ALPHABET, format_code, new_submission_key

ROOT = Path(__file__).resolve().parents[1]
# Letters only Vietnamese has (as tests/test_i18n.py): English text never carries them.
VIETNAMESE_ONLY = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)
SWITCH = "Tiếng Việt"  # the link to the Vietnamese site, in its own language
SHOWN_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")


class _Visible(HTMLParser):
    """The text a person reads (and hears) on a page: text, and the attributes shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.hidden += 1
        for name, value in attrs:
            if value and (name in SHOWN_ATTRIBUTES or name.startswith("data-") and " " in value):
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


def vietnamese_left(html: str, proper_names: list[str]) -> list[str]:
    """The pieces of visible text that still carry Vietnamese, proper names taken out."""
    parser = _Visible()
    parser.feed(html)
    left = []
    for part in parser.parts:
        for name in proper_names:
            part = part.replace(name, " ")
        if VIETNAMESE_ONLY.search(part):
            left.append(part.strip())
    return left


def _proper_names() -> list[str]:
    from tipline.accounts.models import User
    from tipline.places.models import Unit

    units = db.session.execute(sa.select(Unit.name, Unit.kind)).all()
    names = {name for name, _kind in units} | set(db.session.scalars(sa.select(User.full_name)))
    # A place's own name without its kind word ("Đông" of "Thôn Đông") may stand in English
    # ("Đông village"); the kind words themselves may not.
    kinds = {word.lower() for _name, kind in units for word in (kind or "").split()}
    for name, _kind in units:
        own = " ".join(w for w in name.split() if w.lower() not in kinds)
        if any(ch.isalpha() for ch in own):  # "1" of "Tổ dân phố 1" is no name
            names.add(own)
    # Longest first: "Xã An Bình" goes before "An Bình" would.
    return sorted({n for n in names if n} | {SWITCH}, key=len, reverse=True)


@pytest.fixture
def english_world(world, make_tip):
    """The world's categories with their English names, and a tip with a question waiting
    (texts a resident or staff member typed are in English here: they are not the interface)."""
    for category, english in ((world.theft, "Theft of property"), (world.fight, "Fighting")):
        category.name_en = english
    db.session.commit()
    code = "".join(secrets.choice(ALPHABET) for _ in range(16))
    tip = make_tip(
        world.a1,
        follow_up_code=code,
        description="Two men broke the lock of a bicycle at the market gate.",
        place="Market gate",
    )
    workflow.send_message(tip, world.user("leader_a1"), "What colour was it?", MessageKind.QUESTION)
    db.session.commit()
    return tip, code


def _check(pages: dict[str, str], names: list[str]) -> None:
    found = {path: vietnamese_left(html, names) for path, html in pages.items()}
    found = {path: sorted(set(left)) for path, left in found.items() if left}
    report = "\n".join(f"{path}: {left[:12]}" for path, left in sorted(found.items()))
    assert found == {}, f"Vietnamese on {len(found)} English pages:\n{report}"


# --- the names kept in the database -------------------------------------------------------


def _enums() -> list[type[LabelledEnum]]:
    import tipline.accounts.models
    import tipline.places.models
    import tipline.reports.models  # noqa: F401
    import tipline.teams.models
    import tipline.tips.models  # noqa: F401

    seen, todo = [], list(LabelledEnum.__subclasses__())
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


@pytest.mark.parametrize("enum", _enums(), ids=lambda e: e.__name__)
def test_every_enum_label_has_its_english(app, enum):
    from flask_babel import force_locale

    with app.test_request_context("/en/"), force_locale("en"):
        vietnamese = [m.label for m in enum if VIETNAMESE_ONLY.search(m.label)]
    assert vietnamese == [], f"{enum.__name__}: no English for {vietnamese}"


def test_enum_choices_follow_the_language_of_each_request(app):
    """Form choices are built once, at import: their labels must still be read per request."""
    from flask_babel import force_locale

    from tipline.public.forms import SubmitTipForm

    choices = SubmitTipForm.identity_tier.kwargs["choices"]
    with app.test_request_context("/"), force_locale("vi"):
        assert [str(c.label) for c in choices][0] == "Ẩn danh"
    with app.test_request_context("/en/"), force_locale("en"):
        assert [str(c.label) for c in choices][0] == "Anonymous"


def test_english_form_shows_english_categories_and_identity_choices(client, english_world):
    page = client.get(f"/en/gui-tin?xa=A&phieu={new_submission_key()}").get_data(as_text=True)
    for english in ("Theft of property", "Fighting", "Anonymous"):
        assert english in page, english
    for vietnamese in ("Trộm cắp tài sản", "Ẩn danh", "Giữ bí mật danh tính"):
        assert vietnamese not in page, vietnamese
    # The Vietnamese form keeps the Vietnamese names.
    page = client.get(f"/gui-tin?xa=A&phieu={new_submission_key()}").get_data(as_text=True)
    assert "Trộm cắp tài sản" in page and "Theft of property" not in page


def test_an_english_name_written_on_the_admin_page_shows_on_the_english_form(client, world, login):
    answer = login("admin").post(
        "/admin/categories/theft",
        data={"code": "theft", "name": "Trộm cắp tài sản", "name_en": "Stealing things"},
    )
    assert answer.status_code == 302
    page = client.get(f"/en/gui-tin?xa=A&phieu={new_submission_key()}").get_data(as_text=True)
    assert "Stealing things" in page and "Trộm cắp tài sản" not in page


def test_standard_categories_get_their_english_names(ctx):
    from tipline.demo import CATEGORIES, seed_categories

    own = Category(code="theft", name="Trộm cắp tài sản", name_en="Stealing", sort_order=0)
    db.session.add(own)
    db.session.flush()
    seeded = {c.code: c for c in seed_categories()}
    assert seeded["theft"].name_en == "Stealing"  # an administrator's own English stays
    assert {code: seeded[code].name_en for code, _vi, _en in CATEGORIES[1:]} == {
        code: english for code, _vi, english in CATEGORIES[1:]
    }
    assert all(en and not VIETNAMESE_ONLY.search(en) for _c, _v, en in CATEGORIES)


def test_migration_fills_english_names_where_none_was_written(tmp_path):
    """Revision 0013 on its own: fills the empty ones, keeps an administrator's, undoes itself."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    path = ROOT / "migrations" / "versions" / "b7a1c0de0013_english_names_of_database_labels.py"
    spec = importlib.util.spec_from_file_location("revision_0013", path)
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    table = sa.table("categories", sa.column("code"), sa.column("name_en"))
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE categories (code VARCHAR, name_en VARCHAR)"))
        connection.execute(
            sa.insert(table),
            [
                {"code": "theft", "name_en": None},
                {"code": "drugs", "name_en": "Narcotics"},
                {"code": "wildlife", "name_en": None},
            ],
        )
        with Operations.context(MigrationContext.configure(connection)):
            revision.upgrade()
            after = dict(connection.execute(sa.select(table.c.code, table.c.name_en)).all())
            revision.downgrade()
            undone = dict(connection.execute(sa.select(table.c.code, table.c.name_en)).all())
    assert after == {"theft": "Theft of property", "drugs": "Narcotics", "wildlife": None}
    assert undone == {"theft": None, "drugs": "Narcotics", "wildlife": None}


# --- the walk ---------------------------------------------------------------------------------


def test_every_english_resident_page_is_english(app, client, english_world):
    tip, code = english_world
    names = _proper_names() + [tip.reference]
    pages = {}
    for path in (
        "/en/",
        "/en/gui-tin",
        f"/en/gui-tin?xa=A&phieu={new_submission_key()}",
        "/en/tra-cuu",
        f"/en/tra-cuu?reference={tip.reference}",
        "/en/rieng-tu",
        "/en/so-lieu",
        "/en/so-lieu?xa=A",
        f"/en/so-lieu?ky={local_today().year}",
        "/en/khong-co-trang-nay",
    ):
        answer = client.get(path)
        assert answer.status_code in (200, 404), (path, answer.status_code)
        pages[path] = answer.get_data(as_text=True)
    form = {
        "submission_key": new_submission_key(),
        "village": "A1",
        "category": "theft",
        "identity_tier": "anonymous",
    }
    refused = client.post("/en/gui-tin?xa=A", data={**form, "description": ""})
    pages["POST /en/gui-tin (refused)"] = refused.get_data(as_text=True)
    receipt = client.post("/en/gui-tin?xa=A", data={**form, "description": "A stolen motorbike."})
    pages["POST /en/gui-tin (receipt)"] = receipt.get_data(as_text=True)
    names.append(re.search(r'id="reference">([^<]+)<', pages["POST /en/gui-tin (receipt)"])[1])
    wrong = client.post("/en/tra-cuu", data={"reference": tip.reference, "code": "X" * 16})
    pages["POST /en/tra-cuu (wrong code)"] = wrong.get_data(as_text=True)
    status = client.post(
        "/en/tra-cuu", data={"reference": tip.reference, "code": format_code(code)}
    )
    assert status.status_code == 200
    pages["POST /en/tra-cuu (status)"] = status.get_data(as_text=True)
    pages["/en/tra-cuu/tin"] = client.get("/en/tra-cuu/tin").get_data(as_text=True)
    empty = client.post("/en/tra-cuu/tin-nhan", data={"body": "", "kind": "reply"})
    pages["POST /en/tra-cuu/tin-nhan (refused)"] = empty.get_data(as_text=True)
    signed_out = client.post("/en/tra-cuu/thoat")
    pages["POST /en/tra-cuu/thoat"] = signed_out.get_data(as_text=True)
    _check(pages, names)


SKIPPED = re.compile(
    r"/(logout|dang-xuat|thoat)\b|\.(csv|xlsx|pdf|docx|json|png|jpg|ico)(\?|$)|/photos/"
)


def _links(html: str, base: str) -> list[str]:
    found = []
    for href in re.findall(r'href="([^"#]+)"', html):
        href = href.replace("&amp;", "&")
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/en/"):
            continue
        if SKIPPED.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


@pytest.mark.parametrize("account", ["police_a", "admin"])
def test_every_english_staff_page_one_account_reaches_is_english(app, english_world, account):
    tip, _code = english_world
    client = app.test_client()
    login = client.get("/en/staff/login").get_data(as_text=True)
    answer = client.post("/en/staff/login", data={"username": account, "password": PASSWORD})
    assert answer.status_code == 302
    pages = {"/en/staff/login": login}
    queue, seen = ["/en/staff/", f"/en/staff/tips/{tip.public_id}"], set()
    while queue and len(seen) < 80:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[path] = html
        queue.extend(link for link in _links(html, "http://localhost" + path) if link not in seen)
    assert len(pages) > 5, sorted(pages)
    _check(pages, _proper_names() + [tip.reference])
