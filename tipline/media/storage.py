"""Where cleaned photos live: a local folder, or S3-compatible object storage.

Both backends store the same server-made names (see :func:`check_name`); a name that
the server would never make is refused before it reaches a path or a key, so nothing a
request carries can point outside the photo store.

``storage_for(app)`` picks the backend from the configuration (``TIPLINE_PHOTO_STORAGE``)
and makes it once per app.
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l

from tipline.core.errors import TiplineError
from tipline.core.faults import crash_point

if TYPE_CHECKING:
    from flask import Flask

    from tipline.media.photos import ProcessedPhoto

__all__ = [
    "LocalStorage",
    "PhotoStorage",
    "S3Storage",
    "StorageFull",
    "check_name",
    "delete_photo",
    "is_photo_name",
    "is_voice_name",
    "photo_path",
    "save_photo",
    "save_voice",
    "storage_for",
    "stored_names",
]

# Server-made names: 24 url-safe characters from secrets.token_urlsafe(18), then
# ".jpg" for the image or ".thumb.jpg" for its thumbnail, or ".ogg" for a voice note
# (cleaned Ogg Opus, see tipline/media/audio.py): both live in the same store.
NAME_RE = re.compile(r"(?P<token>[A-Za-z0-9_-]{24})(?:(?:\.thumb)?\.jpg|\.ogg)")
VOICE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{24}\.ogg")
_TOKEN_BYTES = 18

EXTENSION_KEY = "tipline_photo_storage"

# A file being written: ".<name>.<16 hex>.tmp" next to where <name> will be.
TEMPORARY_RE = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{16}\.tmp")
# Errors that mean "no room" rather than "broken": the resident can still send words.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class StorageFull(TiplineError):
    """The photo store has no room left; nothing was stored (507 Insufficient Storage)."""

    status_code = 507

    def __init__(self) -> None:
        super().__init__(
            _l(
                "Máy chủ tạm thời không còn chỗ lưu ảnh nên tin của bạn chưa được gửi. "
                "Hãy quay lại và gửi tin không kèm ảnh, hoặc thử lại sau."
            )
        )


def is_photo_name(name: object) -> bool:
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def is_voice_name(name: object) -> bool:
    return isinstance(name, str) and VOICE_NAME_RE.fullmatch(name) is not None


def check_name(name: object) -> str:
    """The name itself if the server could have made it; FileNotFoundError otherwise."""
    if not is_photo_name(name):
        raise FileNotFoundError(name)
    return name  # type: ignore[return-value]


def _refuse_to_write(name: object) -> None:
    if not is_photo_name(name):
        raise ValueError(f"not a server-made photo name: {name!r}")


class PhotoStorage(ABC):
    """The few operations Tipline needs from a photo store."""

    @abstractmethod
    def put(self, name: str, data: bytes) -> None:
        """Store data under name, replacing what was there; readers see all or nothing."""

    @abstractmethod
    def get(self, name: str) -> bytes:
        """The stored bytes; FileNotFoundError when missing or not a server-made name."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether name is stored (False for a name the server would never make)."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove name; idempotent, and a name the server would never make is ignored."""

    @abstractmethod
    def list(self) -> Iterator[tuple[str, float]]:
        """Every stored photo name with its modification time (seconds since the epoch)."""

    @abstractmethod
    def ping(self) -> bool:
        """Whether the store answers and can be used (for the health check); never raises."""


# ------------------------------------------------------------------------ local folder


def _fsync_dir(directory: pathlib.Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Owner-only: photos show what a resident saw; only the app's user may read them.
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def minute_ns(moment: float | None = None) -> int:
    """A time to the minute, in nanoseconds since the epoch (what os.utime takes)."""
    seconds = int(time.time() if moment is None else moment)
    return (seconds - seconds % 60) * 1_000_000_000


def _to_minute(target: int | pathlib.Path) -> None:
    """Set a file's (or folder's) access and modification times to the current minute.

    The file system would keep them to the nanosecond: the time a resident sent a photo.
    """
    minute = minute_ns()
    os.utime(target, ns=(minute, minute))


def _make_folder(folder: pathlib.Path) -> bool:
    """Create an owner-only folder (mode set explicitly, whatever the umask); True if new."""
    try:
        folder.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        return False
    except FileNotFoundError:  # the store's own parent is missing: make it as before
        folder.parent.mkdir(parents=True, exist_ok=True)
        return _make_folder(folder)
    folder.chmod(FOLDER_MODE)
    return True


def _folder_times_to_minute(folder: pathlib.Path, *, with_parent: bool) -> None:
    # A folder's modification time is that of its last new entry (a photo, a temporary).
    try:
        _to_minute(folder)
        if with_parent:
            _to_minute(folder.parent)
    except OSError:  # gone meanwhile, or not ours: the file itself is what matters
        pass


def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename into place.

    The file is owner-only from its creation, and its times are to the minute before it
    takes its name, so no reader ever sees a finer time.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            crash_point("storage.before_tmp_write")
            fh.write(data)
            fh.flush()
            _to_minute(fh.fileno() if os.utime in os.supports_fd else tmp)
            os.fsync(fh.fileno())
            crash_point("storage.after_tmp_write")
        os.replace(tmp, path)
    except BaseException:
        # A process killed here leaves the temporary file: sweep_temporary removes it.
        tmp.unlink(missing_ok=True)
        raise


class LocalStorage(PhotoStorage):
    """Photos under root, in two-character subfolders: <root>/<ab>/<ab...>.jpg."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = pathlib.Path(root)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, name: str) -> pathlib.Path:
        """The file of a server-made name (it need not exist); FileNotFoundError otherwise."""
        name = check_name(name)
        return self.root.resolve() / name[:2] / name

    def put(self, name: str, data: bytes) -> None:
        _refuse_to_write(name)
        path = self.path(name)
        folder_is_new = False
        try:
            _make_folder(self.root)
            folder_is_new = _make_folder(path.parent)
            _write_atomic(path, data)
        except OSError as error:
            if error.errno in _FULL_ERRNOS:
                raise StorageFull() from error
            raise
        finally:
            _folder_times_to_minute(path.parent, with_parent=folder_is_new)
        try:
            crash_point("storage.after_rename")
            _fsync_dir(path.parent)
        except BaseException:
            # A put that fails stores nothing, so callers clean up only what they stored.
            path.unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes:
        path = self.path(name)
        if not path.is_file():
            raise FileNotFoundError(name)
        return path.read_bytes()

    def exists(self, name: str) -> bool:
        try:
            return self.path(name).is_file()
        except FileNotFoundError:
            return False

    def delete(self, name: str) -> None:
        try:
            path = self.path(name)
        except FileNotFoundError:
            return
        path.unlink(missing_ok=True)

    def list(self) -> Iterator[tuple[str, float]]:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if is_photo_name(path.name) and path.is_file():
                    yield path.name, path.stat().st_mtime

    def ping(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)

    def sweep_temporary(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Remove temporary files left by writers that died (a crash, a kill); return how many.

        A live writer's file is seconds old: anything older than the limit is abandoned.
        """
        if not self.root.is_dir():
            return 0
        limit = (now if now is not None else time.time()) - older_than_seconds
        removed = 0
        for folder in self.root.iterdir():
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in folder.iterdir():
                match = TEMPORARY_RE.fullmatch(path.name)
                if match is None or not is_photo_name(match["name"]) or not path.is_file():
                    continue
                try:
                    if path.stat().st_mtime < limit:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:  # another sweeper or the writer got there first
                    continue
        return removed


# ------------------------------------------------------------------------------ S3


def _s3_error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Storage(PhotoStorage):
    """Photos as objects <prefix><name> in one bucket of S3 or an S3-compatible server.

    `client` is a boto3 S3 client (thread-safe, so one is shared by a process's threads).
    """

    def __init__(self, bucket: str, prefix: str, client: Any):
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        self.bucket = bucket
        self.prefix = prefix
        self.client = client

    def __repr__(self) -> str:
        return f"S3Storage({self.bucket!r}, {self.prefix!r})"

    def key(self, name: str) -> str:
        """The object key of a server-made name; FileNotFoundError otherwise."""
        return self.prefix + check_name(name)

    def put(self, name: str, data: bytes) -> None:
        _refuse_to_write(name)
        # A PUT is atomic in S3: readers see the old object, or none, or all of the new.
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(name),
            Body=data,
            ContentType="audio/ogg" if is_voice_name(name) else "image/jpeg",
        )

    def get(self, name: str) -> bytes:
        from botocore.exceptions import ClientError

        key = self.key(name)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _s3_error_code(error) in _MISSING_CODES:
                raise FileNotFoundError(name) from error
            raise
        with response["Body"] as body:
            return body.read()

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            key = self.key(name)
        except FileNotFoundError:
            return False
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _s3_error_code(error) in _MISSING_CODES:
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        try:
            key = self.key(name)
        except FileNotFoundError:
            return
        self.client.delete_object(Bucket=self.bucket, Key=key)  # no error if absent

    def list(self) -> Iterator[tuple[str, float]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", ()):
                name = item["Key"][len(self.prefix) :]
                if is_photo_name(name):
                    yield name, item["LastModified"].timestamp()

    def ping(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception:  # unreachable, no such bucket, no permission: all "not usable"
            return False
        return True


def s3_client(*, endpoint_url: str | None = None, region: str | None = None, **config: Any) -> Any:
    """A boto3 S3 client; credentials come from boto3's usual chain (environment etc.)."""
    import boto3
    from botocore.config import Config as BotoConfig

    options: dict[str, Any] = {
        "connect_timeout": 5,
        "read_timeout": 30,
        "retries": {"max_attempts": 3, "mode": "standard"},
    }
    if endpoint_url:
        # S3-compatible servers (MinIO, Ceph, Garage...) reliably answer path-style
        # requests only, and not all of them accept the checksums newer SDKs add.
        options.update(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    options.update(config)
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        config=BotoConfig(**options),
    )


def _make_storage(config: dict) -> PhotoStorage:
    kind = (config.get("TIPLINE_PHOTO_STORAGE") or "local").strip().lower()
    if kind == "local":
        return LocalStorage(config["UPLOAD_DIR"])
    if kind == "s3":
        bucket = config.get("TIPLINE_S3_BUCKET")
        if not bucket:
            raise RuntimeError("TIPLINE_PHOTO_STORAGE=s3 needs TIPLINE_S3_BUCKET.")
        prefix = config.get("TIPLINE_S3_PREFIX")
        client = s3_client(
            endpoint_url=config.get("TIPLINE_S3_ENDPOINT_URL"),
            region=config.get("TIPLINE_S3_REGION"),
        )
        return S3Storage(bucket, "photos/" if prefix is None else prefix, client)
    raise RuntimeError(f"TIPLINE_PHOTO_STORAGE must be 'local' or 's3', not {kind!r}.")


def storage_for(app: Flask) -> PhotoStorage:
    """The app's photo storage, made on first use and kept in app.extensions."""
    storage = app.extensions.get(EXTENSION_KEY)
    if storage is None:
        # Two threads may both get here; either storage is as good as the other.
        storage = app.extensions.setdefault(EXTENSION_KEY, _make_storage(app.config))
    return storage


# ------------------------------------------------------------------- photos by name
# Writing, reading and deleting photos by name; a path or a folder name given here means
# a LocalStorage there.


def _storage(target: PhotoStorage | str | os.PathLike[str]) -> PhotoStorage:
    return target if isinstance(target, PhotoStorage) else LocalStorage(target)


def photo_path(upload_dir: str | os.PathLike[str], name: str) -> pathlib.Path:
    """The path of a stored photo or thumbnail by its server-made name.

    Raises FileNotFoundError for anything that is not a name save_photo() makes
    (so "../etc/passwd", names with slashes etc. never reach the file system). The file
    itself is not required to exist.
    """
    return LocalStorage(upload_dir).path(name)


def save_photo(
    target: PhotoStorage | str | os.PathLike[str], processed: ProcessedPhoto
) -> tuple[str, str]:
    """Store image and thumbnail (atomically each); return (name, thumb_name).

    target is a PhotoStorage or a local folder. Both names are made by the server (never
    derived from the upload); in a folder they live in a two-character subfolder:
    <dir>/<ab>/<token>.jpg and <dir>/<ab>/<token>.thumb.jpg.
    """
    storage = _storage(target)
    # 144 random bits: a name already taken is never drawn, so nobody asks the store.
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    name, thumb_name = f"{token}.jpg", f"{token}.thumb.jpg"
    written: list[str] = []
    try:
        # The thumbnail first: a photo whose full image exists always has its thumbnail.
        for target_name, data in ((thumb_name, processed.thumb), (name, processed.data)):
            storage.put(target_name, data)
            written.append(target_name)
    except BaseException:
        for target_name in written:
            storage.delete(target_name)
        raise
    return name, thumb_name


def save_voice(target: PhotoStorage | str | os.PathLike[str], data: bytes) -> str:
    """Store a cleaned voice note (Ogg Opus) under a server-made name "<token>.ogg"."""
    name = f"{secrets.token_urlsafe(_TOKEN_BYTES)}.ogg"
    _storage(target).put(name, data)
    return name


def delete_photo(target: PhotoStorage | str | os.PathLike[str], name: str) -> None:
    """Remove a stored photo or thumbnail. Idempotent: a missing file is not an error,
    and a name the server would never make refers to nothing, so it is ignored too."""
    _storage(target).delete(name)


def stored_names(target: PhotoStorage | str | os.PathLike[str]) -> Iterator[tuple[str, float]]:
    """Every server-made photo name in the store, with its modification time."""
    return _storage(target).list()
