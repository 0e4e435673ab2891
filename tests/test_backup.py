"""`flask tipline backup` / `restore`: a round trip gives back every row and every photo.

Runs on the database of the pass: SQLite (online backup API), or PostgreSQL (pg_dump /
pg_restore) when TIPLINE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pytest
from PIL import Image
from sqlalchemy import MetaData, select

from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.media.storage import storage_for
from tipline.tips import counts, workflow
from tipline.tips.models import IdentityTier, Tip
from tipline.tips.services import new_submission_key, store_photo

pytestmark = pytest.mark.commits  # backups and restores open connections of their own

needs_pg_tools = pytest.mark.skipif(
    shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
    reason="pg_dump / pg_restore not installed",
)


def _jpeg(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def everything(app) -> tuple[dict, dict]:
    """Every row of every table (ordered), and every photo file's bytes."""
    db.session.rollback()
    meta = MetaData()
    meta.reflect(bind=db.engine)
    tables = {}
    for table in meta.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows = db.session.execute(select(table).order_by(*order)).all()
        tables[table.name] = [tuple(row) for row in rows]
    db.session.rollback()
    storage = storage_for(app)
    photos = {name: storage.get(name) for name, _ in storage.list()}
    return tables, photos


@pytest.fixture
def history(app, world, make_tip):
    """Tips with photos, a contact, notes and transitions: something in every table."""
    for name in [name for name, _ in storage_for(app).list()]:  # earlier tests' files
        storage_for(app).delete(name)
    first = make_tip(world.a1, photos=[store_photo(process_photo(_jpeg((200, 30, 30))))])
    make_tip(
        world.a2,
        identity_tier=IdentityTier.CONFIDENTIAL,
        name="Trần Thị Lành",
        phone="0987654321",
        photos=[store_photo(process_photo(_jpeg((30, 200, 30))))],
    )
    make_tip(world.b1, description="Tụ tập gây rối trật tự ở đầu ngõ lúc khuya.")
    leader = world.user("leader_a1")
    workflow.add_note(first, leader, "Đã liên hệ trưởng thôn.", to_tipster=True)
    workflow.transition(first, workflow.Action.TRIAGE, leader, expected_version=first.version)
    db.session.commit()
    return first


def _invoke(runner, *args):
    # The command runs as if in another process: this test's session must not hold a
    # transaction (and its locks) that pg_restore would wait for.
    db.session.commit()
    result = runner.invoke(args=["tipline", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_backup_then_restore_gives_back_every_row_and_every_photo(
    app, runner, history, world, make_tip, tmp_path
):
    before_tables, before_photos = everything(app)
    assert len(before_photos) == 4  # two photos, each with its thumbnail
    archive = tmp_path / "b" / "tipline.tar"
    result = _invoke(runner, "backup", str(archive))
    assert "4 photo files" in result.output

    # Life goes on after the backup: a new tip with a photo, a photo lost, a tip changed.
    make_tip(world.a1, photos=[store_photo(process_photo(_jpeg((10, 10, 200))))])
    storage_for(app).delete(next(iter(before_photos)))
    tip = db.session.get(Tip, history.id)
    tip.description = "đã sửa sau khi sao lưu"
    db.session.commit()
    assert everything(app) != (before_tables, before_photos)

    result = _invoke(runner, "restore", str(archive), "--yes")
    assert "4 photo files" in result.output
    after_tables, after_photos = everything(app)
    assert after_tables.keys() == before_tables.keys()
    for name, rows in before_tables.items():
        assert after_tables[name] == rows, name
    assert after_photos == before_photos
    assert counts.differences() == {}
    # The restored database is a working one: the app takes a tip again.
    response = app.test_client().post(
        "/gui-tin?xa=A",
        data={
            "submission_key": new_submission_key(),
            "village": "A1",
            "category": "theft",
            "description": "Mất trộm gà trong đêm ở xóm dưới.",
            "identity_tier": "anonymous",
        },
    )
    assert response.status_code == 200
    assert len(everything(app)[0]["tips"]) == len(before_tables["tips"]) + 1


def test_the_backup_holds_a_manifest_with_checksums_and_no_stray_paths(
    app, runner, history, tmp_path
):
    archive = tmp_path / "tipline.tar"
    _invoke(runner, "backup", str(archive))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["database"] in ("sqlite", "postgresql")
    assert manifest["database_member"] in names
    assert manifest["rows"]["tips"] == 3
    assert sorted(n for n in names if n.startswith("photos/")) == sorted(
        f"photos/{n}" for n in manifest["photos"]
    )
    assert all(not n.startswith("/") and ".." not in n for n in names)


def test_a_damaged_backup_is_refused_before_anything_changes(app, runner, history, tmp_path):
    archive = tmp_path / "tipline.tar"
    _invoke(runner, "backup", str(archive))
    before = everything(app)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("photos/") and member.name.endswith(".thumb.jpg"):
                data = data[:-10] + b"0123456789"  # one photo changed in the archive
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    db.session.commit()
    result = runner.invoke(args=["tipline", "restore", str(damaged), "--yes"])
    assert result.exit_code == 1
    assert "checksum mismatch" in result.output
    assert everything(app) == before


def test_restore_asks_before_replacing_and_refuses_other_files(app, runner, history, tmp_path):
    archive = tmp_path / "tipline.tar"
    _invoke(runner, "backup", str(archive))
    db.session.commit()
    answer_no = runner.invoke(args=["tipline", "restore", str(archive)], input="n\n")
    assert answer_no.exit_code == 1 and "Continue?" in answer_no.output
    not_a_backup = tmp_path / "other.tar"
    with tarfile.open(not_a_backup, "w") as tar:
        tar.add(__file__, arcname="test_backup.py")
    refused = runner.invoke(args=["tipline", "restore", str(not_a_backup), "--yes"])
    assert refused.exit_code == 1 and "not a Tipline backup" in refused.output
    assert "không phải bản sao lưu Tipline" in refused.output
    again = runner.invoke(args=["tipline", "backup", str(archive)])
    assert again.exit_code == 1 and "exists already" in again.output


def test_backup_without_photos_keeps_the_photo_store_on_restore(app, runner, history, tmp_path):
    archive = tmp_path / "db-only.tar"
    result = _invoke(runner, "backup", str(archive), "--no-photos")
    assert "0 photo files" in result.output
    _, photos = everything(app)
    _invoke(runner, "restore", str(archive), "--yes")
    assert everything(app)[1] == photos


# ------------------------------------------------------------ hostile archives


def _member(name: str, data: bytes | None = None, **fields) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    return info, data


def _rework(archive, out, *, rename=None, drop=(), extra=(), manifest=None):
    """A copy of archive with members renamed (in the manifest too), dropped or added.

    The manifest's checksums stay right: only the names and kinds of members are hostile.
    """
    rename = rename or {}
    with tarfile.open(archive) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "manifest.json":
                content = json.loads(data)
                if content["database_member"] in rename:
                    content["database_member"] = rename[content["database_member"]]
                if manifest is not None:
                    manifest(content)
                data = json.dumps(content).encode()
            if member.name in drop:
                continue
            info, _ = _member(rename.get(member.name, member.name), data, mode=0o600)
            dst.addfile(info, io.BytesIO(data))
        for info, data in extra:
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


@pytest.fixture
def changed_since_backup(app, runner, history, tmp_path):
    """A genuine backup, then a change: a restore that went through would undo it."""
    archive = tmp_path / "good.tar"
    _invoke(runner, "backup", str(archive))
    tip = db.session.get(Tip, history.id)
    tip.description = "đã sửa sau khi sao lưu"
    db.session.commit()
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    return archive, manifest, everything(app)


def _restore(runner, archive, *extra_args):
    db.session.commit()
    return runner.invoke(args=["tipline", "restore", str(archive), "--yes", *extra_args])


def _refused(app, runner, archive, *extra_args, result=None):
    result = result or _restore(runner, archive, *extra_args)
    assert result.exit_code == 1, result.output
    # A refusal the command explains (ClickException), not a traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Bản sao lưu bị từ chối, không có gì thay đổi" in result.output
    assert "backup refused, nothing changed" in result.output
    return result


def test_a_database_member_named_up_and_out_is_refused_and_nothing_is_written_there(
    app, runner, changed_since_backup, tmp_path
):
    archive, manifest, before = changed_since_backup
    outside = tmp_path / "escaped" / manifest["database_member"]
    outside.parent.mkdir()
    # Up to the root from wherever the restore's work folder is, then down to `outside`.
    climbing = "../" * 40 + str(outside).lstrip("/")
    hostile = _rework(archive, tmp_path / "up.tar", rename={manifest["database_member"]: climbing})
    result = _restore(runner, hostile)
    assert not outside.exists()
    _refused(app, runner, hostile, result=result)
    assert "unsafe path" in result.output and "không an toàn" in result.output
    assert everything(app) == before


def test_a_database_member_with_an_absolute_name_is_refused_and_nothing_is_written_there(
    app, runner, changed_since_backup, tmp_path
):
    archive, manifest, before = changed_since_backup
    outside = tmp_path / "absolute" / manifest["database_member"]
    outside.parent.mkdir()
    hostile = _rework(
        archive, tmp_path / "abs.tar", rename={manifest["database_member"]: str(outside)}
    )
    result = _restore(runner, hostile)
    assert not outside.exists()
    _refused(app, runner, hostile, result=result)
    assert "unsafe path" in result.output
    assert everything(app) == before


@pytest.mark.parametrize(
    ("member", "says"),
    [
        (lambda out: _member("photos", None, type=tarfile.SYMTYPE, linkname=str(out)), "link"),
        (
            lambda out: _member("notes.txt", None, type=tarfile.LNKTYPE, linkname="manifest.json"),
            "link",
        ),
        (lambda out: _member("pipe", None, type=tarfile.FIFOTYPE), "not a regular file"),
        (lambda out: _member("tty", None, type=tarfile.CHRTYPE, devmajor=5), "not a regular file"),
        (lambda out: _member("photos", None, type=tarfile.DIRTYPE), "not a regular file"),
    ],
    ids=["symlink-outside", "hardlink", "fifo", "device", "directory"],
)
def test_links_devices_and_fifos_refuse_the_whole_archive(
    app, runner, changed_since_backup, tmp_path, member, says
):
    archive, _manifest, before = changed_since_backup
    outside = tmp_path / "outside"
    outside.mkdir()
    hostile = _rework(archive, tmp_path / "links.tar", extra=[member(outside)])
    result = _refused(app, runner, hostile)
    assert says in result.output
    assert list(outside.iterdir()) == []
    assert everything(app) == before


def test_a_member_the_manifest_does_not_list_refuses_the_archive(
    app, runner, changed_since_backup, tmp_path
):
    archive, _manifest, before = changed_since_backup
    stowaway = _member("photos/" + "A" * 24 + ".jpg", b"\xff\xd8 not listed", mode=0o600)
    hostile = _rework(archive, tmp_path / "extra.tar", extra=[stowaway])
    result = _refused(app, runner, hostile)
    assert "is not in the manifest" in result.output and "không có trong manifest" in result.output
    assert everything(app) == before


def test_a_member_twice_in_the_archive_refuses_it(app, runner, changed_since_backup, tmp_path):
    archive, manifest, before = changed_since_backup
    # The second copy is what a reader that takes "the" member by name would use.
    second = _member(manifest["database_member"], b"SQLite format 3\x00 other", mode=0o600)
    hostile = _rework(archive, tmp_path / "twice.tar", extra=[second])
    result = _refused(app, runner, hostile)
    assert "appears twice" in result.output
    assert everything(app) == before


@pytest.mark.parametrize("database", [True, False], ids=["database", "photo"])
def test_a_manifest_naming_a_missing_member_refuses_the_archive(
    app, runner, changed_since_backup, tmp_path, database
):
    archive, manifest, before = changed_since_backup
    first_photo = "photos/" + sorted(manifest["photos"])[0]
    gone = manifest["database_member"] if database else first_photo
    hostile = _rework(archive, tmp_path / "missing.tar", drop={gone})
    # Even when the photos are not restored, the archive must be whole.
    result = _refused(app, runner, hostile, *([] if database else ["--no-photos"]))
    assert f"the manifest lists {gone!r}, which the archive lacks" in result.output
    assert everything(app) == before


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m.update(database_member="../../database.sqlite3"), "database_member"),
        (lambda m: m.update(database_member="photos/x"), "database_member"),
        (lambda m: m.pop("rows"), "rows"),
        (lambda m: m.update(photos=[]), "photos"),
        (lambda m: m.update(created_at="\x1b[2J"), "created_at"),
    ],
    ids=["climbing", "other-member", "no-rows", "photos-list", "escape-codes"],
)
def test_a_malformed_manifest_is_refused_before_the_question(
    app, runner, changed_since_backup, tmp_path, edit, field
):
    archive, _manifest, before = changed_since_backup
    hostile = _rework(archive, tmp_path / "malformed.tar", manifest=edit)
    db.session.commit()
    # Refused when the command reads the manifest to ask, not after the answer.
    result = runner.invoke(args=["tipline", "restore", str(hostile)], input="y\n")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Continue?" not in result.output
    assert f"invalid manifest.json ({field})" in result.output
    assert everything(app) == before


@needs_pg_tools
def test_postgres_tools_are_on_the_path():
    """CI's PostgreSQL pass needs them; a machine without them skips the PG round trip."""
    assert shutil.which("pg_dump") and shutil.which("pg_restore")
