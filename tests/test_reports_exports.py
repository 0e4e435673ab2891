"""Exports: CSV and XLSX of the tips in scope, with the filters; personal data only if allowed."""

from __future__ import annotations

import csv
import io
import re

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from tests.reports_story import NOW, build
from tipline.extensions import db
from tipline.reports.exports import neutralise
from tipline.reports.models import ExportLog
from tipline.tips.models import IdentityAccess


@pytest.fixture
def story(world, make_tip):
    return build(world, make_tip)


def _csv(response) -> list[list[str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _matching(html: str) -> int:
    return int(re.search(r'id="dash-matching">([^<]*)<', html).group(1).replace(".", ""))


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "query",
    ["ky=2026", "ky=2026&trang-thai=resolved", "ky=2026-10", "ky=2026&linh-vuc=disturbance"],
)
def test_csv_rows_equal_the_count_on_screen(login, story, query):
    client = login("officer")
    shown = _matching(client.get(f"/staff/bao-cao/?{query}").get_data(as_text=True))
    rows = _csv(client.get(f"/staff/bao-cao/xuat.csv?{query}"))
    assert len(rows) - 1 == shown
    assert shown > 0


@time_machine.travel(NOW, tick=False)
def test_rejected_tips_are_listed_like_the_inbox_lists_them(login, story):
    rows = _csv(login("police_a").get("/staff/bao-cao/xuat.csv?ky=2026&trang-thai=rejected"))
    assert [r[0] for r in rows[1:]] == [story["a_rej"].reference]


@time_machine.travel(NOW, tick=False)
def test_formula_cells_are_neutralised_in_csv_and_xlsx(login, story):
    client = login("officer")
    rows = _csv(client.get("/staff/bao-cao/xuat.csv?ky=2026"))
    descriptions = [r[12] for r in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in descriptions
    assert not any(d.startswith(("=", "+", "-", "@")) for d in descriptions)

    response = client.get("/staff/bao-cao/xuat.xlsx?ky=2026")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = [row[12] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert '\'=HYPERLINK("http://x")' in values
    assert sheet.max_row - 2 == len(rows) - 1  # a title row, the header, the tips


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+84", "'+84"),
        ("-2", "'-2"),
        ("@SUM", "'@SUM"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ok", "ok"),
        (5, 5),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


@time_machine.travel(NOW, tick=False)
def test_exports_without_identity_hold_no_names(login, story):
    body = login("police_a").get("/staff/bao-cao/xuat.csv?ky=2026").get_data().decode()
    assert "Nguyễn Văn Lộ" not in body and "0912345678" not in body
    log = db.session.scalars(select(ExportLog)).one()
    # Commune A's eight counted tips and its rejected one (listed as the inbox lists it).
    assert (log.format, log.rows, log.with_identity) == ("csv", 9, False)
    assert db.session.scalars(select(IdentityAccess)).all() == []


@time_machine.travel(NOW, tick=False)
def test_commune_police_export_with_identity_is_logged_per_tip(login, story, world):
    response = login("police_a").post("/staff/bao-cao/xuat.xlsx?ky=2026", data={"danh-tinh": "1"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    named = [r for r in rows[2:] if r[13]]
    assert [(r[13], r[14]) for r in named] == [("Nguyễn Văn Lộ", "0912345678")]
    accesses = db.session.scalars(select(IdentityAccess)).all()
    assert [(a.tip_id, a.user_id, a.purpose) for a in accesses] == [
        (story["a2_1"].id, world.users["police_a"].id, "export")
    ]
    log = db.session.scalars(select(ExportLog)).one()
    assert log.with_identity and log.format == "xlsx"


@time_machine.travel(NOW, tick=False)
def test_officer_may_not_export_identities(login, story):
    client = login("officer")
    assert client.post("/staff/bao-cao/xuat.csv", data={"danh-tinh": "1"}).status_code == 403
    assert client.post("/staff/bao-cao/xuat.csv", data={"danh-tinh": "yes"}).status_code == 400
    assert db.session.scalars(select(IdentityAccess)).all() == []


@time_machine.travel(NOW, tick=False)
def test_identity_export_needs_a_deliberate_post(login, story):
    police = login("police_a")
    # A link (or a browser prefetch) cannot export identities or write the access log.
    assert police.get("/staff/bao-cao/xuat.xlsx?ky=2026&danh-tinh=1").status_code == 400
    assert db.session.scalars(select(IdentityAccess)).all() == []
    page = police.get("/staff/bao-cao/?ky=2026").get_data(as_text=True)
    assert '<input type="hidden" name="danh-tinh" value="1">' in page


@time_machine.travel(NOW, tick=False)
def test_exports_stay_in_scope(login, story):
    client = login("police_b")
    rows = _csv(client.get("/staff/bao-cao/xuat.csv?ky=2026"))
    assert {r[2] for r in rows[1:]} == {"Phường Bắc Sơn"}
    assert client.get("/staff/bao-cao/xuat.csv?don-vi=A").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_too_large_an_export_is_refused_with_a_message(app, login, story):
    app.config["TIPLINE_REPORTS_EXPORT_MAX_ROWS"] = 3
    try:
        response = login("officer").get("/staff/bao-cao/xuat.csv?ky=2026")
    finally:
        app.config["TIPLINE_REPORTS_EXPORT_MAX_ROWS"] = 100_000
    assert response.status_code == 400
    assert "thu hẹp" in response.get_data(as_text=True)
