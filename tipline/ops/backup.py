"""Backups: the database and every stored photo in one tar file, and back again.

A backup is a plain (uncompressed: photos are JPEG already) tar file holding

    manifest.json       format, time, database kind, Alembic revision, row counts per
                        table, and the SHA-256 of the database file and of every photo
    database.sqlite3    SQLite: a copy made with SQLite's online backup API, so the app
                        keeps serving (and writing) while it runs
    database.dump       PostgreSQL: `pg_dump --format=custom` (restored by pg_restore)
    photos/<name>       every stored photo and thumbnail, read through the photo storage

The database is copied first, then the photos: a photo is stored before the row that
names it is committed, so every photo the copied rows name is already there to copy.
Photos written after the database copy come along as orphans, which `photos prune`
removes after a restore.

Photos are read through the app's photo storage, so an S3 store is backed up too (every
object is downloaded into the tar, and a restore uploads them again); for a large bucket,
prefer the object store's own versioning or replication and back up the database only
(`--no-photos`).

A restore trusts no name in the archive: before anything is written it checks that the
archive holds exactly the members above that its manifest lists (no more, none missing,
none twice), each a regular file (no link, device, FIFO or folder) with a plain relative
name, and it never makes a path from a name the archive carries. A refused archive
changes nothing. The checksums find damage, not forgery: restore only backups you made.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import make_url

from tipline.extensions import db
from tipline.media.storage import is_photo_name, storage_for

FORMAT = "tipline-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.dump"
PHOTO_PREFIX = "photos/"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass(frozen=True)
class Summary:
    path: Path
    database: str
    tables: int
    rows: int
    photos: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def database_kind(uri: str) -> str:
    backend = make_url(uri).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"unsupported database: {backend}")
    return backend


def _sqlite_path(uri: str) -> Path:
    database = make_url(uri).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(uri: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (it goes in PGPASSWORD, off the process list)."""
    url = make_url(uri)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    # A fixed argument list (the tool's path from PATH, our options), no shell.
    result = subprocess.run(  # noqa: S603  # nosec B603
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-2000:]}")


def _row_counts() -> dict[str, int]:
    names = inspect(db.engine).get_table_names()
    return {
        name: db.session.scalar(select(func.count()).select_from(table(name)))
        for name in sorted(names)
    }


def _revision() -> str | None:
    try:
        return db.session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:  # no Alembic table: a database built without migrations
        db.session.rollback()
        return None


# A backup holds tipster identities: its file, and anything made on the way, are the
# owner's only, whatever the umask of the process that runs the command.
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def _create_private(path: Path) -> None:
    """Create path as an empty owner-only file (it must not exist yet)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)


def _copy_sqlite(source: Path, target: Path) -> None:
    # The online backup API copies a consistent snapshot page by page while others write.
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    _create_private(target)  # SQLite takes an empty file as an empty database
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(app: Flask, output: Path, *, photos: bool = True) -> Summary:
    """Write a backup of app's database and photos to output (a new tar file)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(uri)
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} exists already")
    if not output.parent.is_dir():
        output.parent.mkdir(parents=True, exist_ok=True)
        output.parent.chmod(FOLDER_MODE)
    # mkdtemp makes the working folder 0700.
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".backup-") as work_dir:
        work = Path(work_dir)
        counts = _row_counts()
        revision = _revision()
        db.session.rollback()
        if kind == "sqlite":
            member, dump = SQLITE_MEMBER, work / SQLITE_MEMBER
            _copy_sqlite(_sqlite_path(uri), dump)
        else:
            member, dump = POSTGRES_MEMBER, work / POSTGRES_MEMBER
            _create_private(dump)  # pg_dump truncates it and keeps the mode
            conninfo, env = _libpq(uri)
            _run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--file={dump}", f"--dbname={conninfo}"],
                env,
            )  # fmt: skip
        partial = work / "backup.tar"
        _create_private(partial)
        photo_sums: dict[str, str] = {}
        with tarfile.open(partial, "w") as tar:
            tar.add(dump, arcname=member)
            if photos:
                storage = storage_for(app)
                for name, _modified in sorted(storage.list()):
                    try:
                        data = storage.get(name)
                    except FileNotFoundError:  # pruned while we were copying
                        continue
                    photo_sums[name] = _sha256(data)
                    _add_bytes(tar, PHOTO_PREFIX + name, data)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": kind,
                "database_member": member,
                "database_sha256": _file_sha256(dump),
                "revision": revision,
                "rows": counts,
                "photos_included": photos,
                "photos": photo_sums,
            }
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, output)  # readers never see half a backup
    return Summary(output, kind, len(counts), sum(counts.values()), len(photo_sums))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


# What a restore accepts. The archive is read, never extracted, and no path is ever made
# from a name it carries: the database goes to a file named by our constant, photos go
# through the photo storage (which takes only server-made names).
DATABASE_MEMBERS = {"sqlite": SQLITE_MEMBER, "postgresql": POSTGRES_MEMBER}
MAX_MANIFEST_BYTES = 256 << 20  # about 112 bytes a photo file: room for two million
_HEX64 = re.compile(r"[0-9a-f]{64}")
_REVISION = re.compile(r"[0-9A-Za-z_]{1,64}")


def _refused(vietnamese: str, english: str) -> BackupError:
    return BackupError(
        f"Bản sao lưu bị từ chối, không có gì thay đổi: {vietnamese} "
        f"(backup refused, nothing changed: {english})"
    )


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r")
    except (tarfile.TarError, OSError) as error:
        raise _refused("không đọc được tệp tar", f"not a readable tar file: {error}") from error


def _unsafe_name(name: str) -> bool:
    parts = name.split("/")
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part in ("", ".", "..") for part in parts)
    )


def _check_members(tar: tarfile.TarFile, work: Path) -> dict[str, tarfile.TarInfo]:
    """Every member by name, once each, each a regular file with a plain relative name."""
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        name = member.name
        if _unsafe_name(name):
            raise _refused(
                f"thành phần {name!r} có đường dẫn không an toàn (tuyệt đối hoặc có '..')",
                f"member {name!r} has an unsafe path (absolute or with '..')",
            )
        if member.issym() or member.islnk():
            raise _refused(
                f"thành phần {name!r} là liên kết (symlink/hardlink)",
                f"member {name!r} is a link (symlink/hardlink)",
            )
        if not member.isreg():
            raise _refused(
                f"thành phần {name!r} không phải tệp thường (thư mục, thiết bị, FIFO)",
                f"member {name!r} is not a regular file (directory, device, FIFO)",
            )
        # The standard library's own judgement as a second opinion (Python 3.12, and
        # 3.11.4+ by backport): it refuses names that would land outside work.
        if hasattr(tarfile, "data_filter"):
            try:
                tarfile.data_filter(member, str(work))
            except tarfile.FilterError as error:
                raise _refused(
                    f"thành phần {name!r} bị bộ lọc của tarfile từ chối",
                    f"member {name!r} refused by tarfile's data filter: {error}",
                ) from error
        if name in members:
            raise _refused(
                f"thành phần {name!r} xuất hiện hai lần", f"member {name!r} appears twice"
            )
        members[name] = member
    return members


def _invalid(field: str) -> BackupError:
    return _refused(f"manifest.json không hợp lệ ({field})", f"invalid manifest.json ({field})")


def _check_manifest(manifest: object) -> dict:
    """The manifest as a backup writes it, or a refusal naming the first field that is not."""
    if not isinstance(manifest, dict):
        raise _invalid("not an object")
    if manifest.get("format") != FORMAT:
        raise _refused(
            f"định dạng lạ {manifest.get('format')!r}",
            f"unknown backup format {manifest.get('format')!r}",
        )
    created_at = manifest.get("created_at")
    try:
        datetime.fromisoformat(created_at)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise _invalid("created_at") from error
    kind = manifest.get("database")
    if kind not in DATABASE_MEMBERS:
        raise _invalid("database")
    if manifest.get("database_member") != DATABASE_MEMBERS[kind]:
        raise _invalid("database_member")
    sha = manifest.get("database_sha256")
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise _invalid("database_sha256")
    revision = manifest.get("revision")
    if revision is not None and not (isinstance(revision, str) and _REVISION.fullmatch(revision)):
        raise _invalid("revision")
    rows = manifest.get("rows")
    if not isinstance(rows, dict) or not all(
        isinstance(name, str) and type(count) is int and count >= 0 for name, count in rows.items()
    ):
        raise _invalid("rows")
    included = manifest.get("photos_included")
    photos = manifest.get("photos")
    if not isinstance(included, bool) or not isinstance(photos, dict):
        raise _invalid("photos")
    if photos and not included:
        raise _invalid("photos")
    for name, digest in photos.items():
        if not is_photo_name(name):
            raise _refused(f"{name!r} không phải tên ảnh", f"{name!r}: not a photo name")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise _invalid(f"photos[{name}]")
    return manifest


def _checked(tar: tarfile.TarFile, work: Path) -> tuple[dict, dict[str, tarfile.TarInfo]]:
    """The manifest and the members, after every name and kind in the archive is checked.

    The archive holds exactly manifest.json, the database member of its kind, and
    photos/<name> for each photo the manifest lists: a member the manifest does not
    list, or one it lists that is missing, refuses the whole archive.
    """
    members = _check_members(tar, work)
    if MANIFEST not in members:
        raise _refused(
            "không phải bản sao lưu Tipline: không có manifest.json",
            "not a Tipline backup: no manifest.json",
        )
    if members[MANIFEST].size > MAX_MANIFEST_BYTES:
        raise _invalid("too large")
    try:
        manifest = json.loads(_read(tar, members[MANIFEST]))
    except ValueError as error:  # JSON or UTF-8
        raise _invalid("not JSON") from error
    manifest = _check_manifest(manifest)
    expected = {MANIFEST, manifest["database_member"]}
    expected.update(PHOTO_PREFIX + name for name in manifest["photos"])
    missing = sorted(expected - members.keys())
    if missing:
        raise _refused(
            f"manifest ghi {missing[0]!r} nhưng tệp tar không có",
            f"the manifest lists {missing[0]!r}, which the archive lacks",
        )
    extra = sorted(members.keys() - expected)
    if extra:
        raise _refused(
            f"thành phần {extra[0]!r} không có trong manifest",
            f"member {extra[0]!r} is not in the manifest",
        )
    return manifest, members


def read_manifest(archive: Path) -> dict:
    """The manifest of a backup whose every member has been checked (see restore)."""
    with _open(archive) as tar, tempfile.TemporaryDirectory() as work_dir:
        manifest, _members = _checked(tar, Path(work_dir))
        return manifest


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    # Members are read, never extracted: a hostile archive cannot write outside anything.
    if not member.isreg():
        raise _refused(
            f"thành phần {member.name!r} không phải tệp thường",
            f"{member.name!r}: not a regular file",
        )
    handle = tar.extractfile(member)
    if handle is None:
        raise _refused(f"không đọc được {member.name!r}", f"{member.name!r}: cannot be read")
    with handle:
        return handle.read()


def _damaged(name: str) -> BackupError:
    return _refused(
        f"{name}: sai mã kiểm tra, bản sao lưu bị hỏng",
        f"{name}: checksum mismatch, the backup is damaged",
    )


def restore(app: Flask, archive: Path, *, photos: bool = True) -> Summary:
    """Replace app's database (and photo store) by the backup's; check everything first."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(uri)
    archive = Path(archive)
    with _open(archive) as tar, tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        manifest, members = _checked(tar, work)
        if manifest["database"] != kind:
            raise _refused(
                f"bản sao lưu chứa cơ sở dữ liệu {manifest['database']}, ứng dụng dùng {kind}",
                f"the backup holds a {manifest['database']} database; this app uses {kind}",
            )
        # The file is named by our constant, never by the archive (checked equal above).
        member = DATABASE_MEMBERS[kind]
        dump = work / member
        _create_private(dump)
        handle = tar.extractfile(members[member])
        if handle is None:  # a regular file always has one; kept for the type checker
            raise _refused(f"không đọc được {member!r}", f"{member!r}: cannot be read")
        with handle, dump.open("wb") as out:
            shutil.copyfileobj(handle, out, 1 << 20)
        if _file_sha256(dump) != manifest["database_sha256"]:
            raise _damaged(member)
        wanted: dict[str, bytes] = {}
        if photos and manifest["photos_included"]:
            for name, digest in manifest["photos"].items():
                data = _read(tar, members[PHOTO_PREFIX + name])
                if _sha256(data) != digest:
                    raise _damaged(name)
                wanted[name] = data

        # Everything checked: now replace. No connection of ours may hold the database.
        db.session.remove()
        db.engine.dispose()
        if kind == "sqlite":
            _restore_sqlite(dump, _sqlite_path(uri))
        else:
            conninfo, env = _libpq(uri)
            _run(
                [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                 "--single-transaction", "--exit-on-error", f"--dbname={conninfo}", str(dump)],
                env,
            )  # fmt: skip
        db.engine.dispose()

    if photos and manifest["photos_included"]:
        storage = storage_for(app)
        for name, data in wanted.items():
            storage.put(name, data)
        # Photos the backup does not have belong to tips the restore removed.
        for name, _modified in list(storage.list()):
            if name not in wanted:
                storage.delete(name)
    rows = manifest["rows"]
    return Summary(archive, kind, len(rows), sum(rows.values()), len(wanted))


def _restore_sqlite(source: Path, target: Path) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _create_private(target)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with contextlib.closing(dst.cursor()) as cursor:
            cursor.execute("PRAGMA busy_timeout=15000")
        src.backup(dst)  # replaces every page of target, under its write lock
        with contextlib.closing(dst.cursor()) as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dst.close()
        src.close()
