"""Units from the national data and villages from a commune's CSV, through the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tipline.accounts.models import AuditEntry
from tipline.extensions import db
from tipline.places.importer import plan_villages, provinces_2024
from tipline.places.models import Unit, UnitLevel


def run(runner, *args: str, code: int = 0, input: bytes | None = None):
    result = runner.invoke(args=["tipline", "units", *args], input=input)
    assert result.exit_code == code, result.output
    return result.output


def unit(code: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def count(level: UnitLevel | None = None, under: Unit | None = None) -> int:
    query = select(func.count(Unit.id))
    if level is not None:
        query = query.where(Unit.level == level)
    if under is not None:
        query = query.where(under.subtree_clause())
    return db.session.scalar(query)


def test_current_structure_of_one_province_imports_once(ctx, runner):
    output = run(runner, "import", "--province", "38")
    assert "166 commune" in output and "Added 167" in output
    province = unit("38")
    assert province.name == "Thanh Hóa" and province.parent is None
    assert count(UnitLevel.COMMUNE, under=province) == 166
    assert unit("14758").name == "Phường Hàm Rồng"
    assert unit("14758").kind == "phường"

    again = run(runner, "import", "--province", "38")
    assert "Added 0, updated 0, unchanged 167" in again
    assert count() == 167


def test_a_renamed_unit_is_updated_in_place(ctx, runner):
    run(runner, "import", "--province", "38")
    commune = unit("14758")
    commune_id = commune.id
    commune.name = "Phường Cũ"
    db.session.commit()
    assert "updated 1" in run(runner, "import", "--province", "38")
    db.session.expire_all()
    assert unit("14758").id == commune_id and unit("14758").name == "Phường Hàm Rồng"


def test_pre_2025_structure_keeps_districts_and_their_real_kinds(ctx, runner):
    output = run(runner, "import", "--structure", "2024", "--province", "38")
    province = unit("38")
    districts = db.session.scalars(select(Unit).where(Unit.parent_id == province.id)).all()
    assert len(districts) == 26
    assert {d.level for d in districts} == {UnitLevel.DISTRICT}
    # 0.6.0 calls every district "huyện": the kind comes from the name instead.
    assert {d.kind for d in districts} == {"thành phố", "thị xã", "huyện"}
    communes = count(UnitLevel.COMMUNE, under=province)
    assert communes == sum(
        len(d.children) for p in provinces_2024() if p.code == "38" for d in p.children
    )
    assert f"{communes} commune" in output
    sam_son = next(d for d in districts if d.name == "Thành phố Sầm Sơn")
    assert sam_son.code == "382"
    kinds = {c.kind for c in sam_son.children}
    assert kinds <= {"phường", "xã", "thị trấn"} and "phường" in kinds
    assert all(c.path.startswith(sam_son.path) for c in sam_son.children)


def test_one_database_keeps_one_structure(ctx, runner):
    run(runner, "import", "--province", "38")
    output = run(runner, "import", "--structure", "2024", "--province", "38", code=1)
    assert "other structure" in output
    assert count(UnitLevel.DISTRICT) == 0


def test_unknown_province_is_refused(ctx, runner):
    assert "no province 99" in run(runner, "import", "--province", "99", code=1)
    assert count() == 0


def test_whole_country_imports_under_one_root_and_adopts_an_existing_province(ctx, runner):
    run(runner, "import", "--province", "38")
    thanh_hoa_path = unit("14758").path
    output = run(runner, "import")
    assert "34 province" in output and "3321 commune" in output
    country = unit("VN")
    assert country.level == UnitLevel.COUNTRY
    assert count(UnitLevel.PROVINCE, under=country) == 34
    assert count(UnitLevel.COMMUNE, under=country) == 3321
    # The province imported first now hangs under the country, paths rewritten.
    assert unit("38").parent_id == country.id
    assert unit("14758").path == country.path + thanh_hoa_path[1:]
    assert count(UnitLevel.COMMUNE, under=unit("38")) == 166
    assert "Added 0" in run(runner, "import")


# --- villages ------------------------------------------------------------------------------

GOOD = (
    "\ufeffmã;tên;loại;thuộc\n"
    "T1;Thôn Trung;thôn;\n"
    ";Tổ dân phố 7;;\n"
    "C1;Cụm dân cư số 1;;T1\n"
    "A1;Thôn Đông;thôn;\n"
).encode()


def test_villages_file_is_previewed_then_imported_once(ctx, runner, world):
    commune = world.commune_a
    before = count(under=commune)

    preview = run(runner, "import-villages", "--commune", "A", "--dry-run", "-", input=GOOD)
    assert "add       T1" in preview and "unchanged A1" in preview
    assert "Dry run" in preview
    assert count(under=commune) == before

    output = run(runner, "import-villages", "--commune", "A", "-", input=GOOD)
    assert "added 3, updated 0, unchanged 1" in output
    village = unit("T1")
    assert (village.level, village.kind, village.parent_id) == (
        UnitLevel.VILLAGE,
        "thôn",
        commune.id,
    )
    generated = unit("A-01")
    assert generated.name == "Tổ dân phố 7" and generated.kind == "tổ dân phố"
    cluster = unit("C1")
    assert cluster.level == UnitLevel.CLUSTER and cluster.parent_id == village.id
    assert cluster.path.startswith(village.path)

    again = run(
        runner, "import-villages", "--commune", "A", "-", input=GOOD.replace(b";;\n", b";;\n", 1)
    )
    assert "added 1" in again  # the row without a code gets a new one each time...
    assert "unchanged 3" in again  # ...the rows with codes are recognised


BAD = (
    "code,name,kind,parent\n"
    "N1,Thôn Mới,thôn,\n"
    "N2,,thôn,\n"
    "N3,Khu công nghiệp,nhà máy,\n"
    "N1,Thôn Mới Lặp,thôn,\n"
    "B1,Thôn Bắc,thôn,\n"
    "C9,Cụm dân cư 9,,X9\n"
).encode()


def test_a_bad_villages_file_imports_nothing_and_names_each_bad_row(ctx, runner, world):
    before = count()
    output = run(runner, "import-villages", "--commune", "A", "-", input=BAD, code=1)
    assert "line 3: thiếu tên" in output
    assert "line 4: loại “nhà máy”" in output
    assert "line 5: mã N1 trùng với dòng 2" in output
    assert "line 6: mã B1 đã thuộc đơn vị khác (Tổ dân phố 1)" in output
    assert "line 7: không tìm thấy thôn “X9”" in output
    assert "nothing was imported" in output
    assert count() == before and unit("N1") is None


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "Tệp trống."),
        ("tên\nThôn Một\n".encode("utf-16"), "UTF-8"),
        (b"code,kind\nX,thon\n", "name"),
        (b"name\n\n\n", "không có dòng nào"),
    ],
)
def test_unreadable_villages_files_get_a_clear_message(ctx, world, data, message):
    plan = plan_villages(world.commune_a, data)
    assert not plan.ok
    assert message in plan.errors[0].message


def test_villages_need_a_real_commune(ctx, runner, world):
    assert "no commune with code 'A1'" in run(
        runner, "import-villages", "--commune", "A1", "-", input=GOOD, code=1
    )


# --- retiring and merging ------------------------------------------------------------------


def test_a_merged_commune_adds_up_in_the_new_and_the_old_structure(ctx, runner, world, make_tip):
    from datetime import date

    from tipline.tips import counts

    for place in (world.a1, world.a2, world.b1, world.commune_b):
        make_tip(place)
    start, end = date(2000, 1, 1), date(2100, 1, 1)
    before = {code: counts.figures_for(unit(code), start, end).received for code in ("T", "A", "B")}
    assert before == {"T": 4, "A": 2, "B": 2}

    output = run(runner, "merge", "B", "--into", "A")
    assert "retired and merged into Xã An Bình" in output
    db.session.expire_all()
    old, new = unit("B"), unit("A")
    assert not old.active and old.merged_into_id == new.id and old.retired_at is not None
    assert old.path.startswith(new.path) and unit("B1").path.startswith(old.path)
    after = {code: counts.figures_for(unit(code), start, end).received for code in ("T", "A", "B")}
    assert after == {"T": 4, "A": 4, "B": 2}  # new structure; old commune read alone
    total, per_commune = counts.figures_by_commune(unit("T"), start, end)
    assert total.received == 4 and {c: f.received for c, f in per_commune.items()} == {new.id: 4}
    assert counts.differences() == {}
    (entry,) = db.session.scalars(select(AuditEntry)).all()
    assert entry.unit_id == new.id and entry.detail.startswith("B Phường Bắc Sơn")


def test_police_of_the_surviving_commune_see_the_merged_tips(ctx, runner, world, make_tip, login):
    tip = make_tip(world.b1)
    police = login("police_a")
    assert police.get(f"/staff/tips/{tip.public_id}").status_code == 404
    run(runner, "merge", "B", "--into", "A")
    assert police.get(f"/staff/tips/{tip.public_id}").status_code == 200


@pytest.mark.parametrize(
    "code, into, message",
    [
        ("A", "A1", "lies inside"),
        ("A1", "B1", None),  # villages may merge
        ("T", "A", "lies inside"),
        ("B", "A1", "cannot be merged into a village"),
        ("B", "ZZ", "no unit with code 'ZZ'"),
    ],
)
def test_impossible_merges_are_refused(ctx, runner, world, code, into, message):
    if message is None:
        run(runner, "merge", code, "--into", into)
        assert "is already retired" in run(runner, "merge", code, "--into", into, code=1)
        return
    assert message in run(runner, "merge", code, "--into", into, code=1)
    db.session.expire_all()
    assert unit(code) is None or unit(code).active


def test_residents_of_a_merged_commune_find_their_village_under_the_new_one(
    ctx, runner, world, client
):
    run(runner, "merge", "B", "--into", "A")
    html = client.get("/gui-tin?xa=A").get_data(as_text=True)
    assert "Tổ dân phố 1" in html  # B1, now reached through Xã An Bình
    choose = client.get("/gui-tin").get_data(as_text=True)
    assert "Phường Bắc Sơn" not in choose  # the retired commune is not offered
