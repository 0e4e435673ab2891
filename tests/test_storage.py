"""Photo storage: the same behaviour from a local folder and from S3-compatible storage.

The S3 variant talks to moto's S3 server, started here on 127.0.0.1 with fake
credentials; those tests skip when moto is not installed.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import stat
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import time_machine
from flask import Flask
from PIL import Image
from sqlalchemy import select

import tipline.media.storage as storage_module
from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.media.storage import (
    EXTENSION_KEY,
    LocalStorage,
    PhotoStorage,
    S3Storage,
    s3_client,
    save_photo,
    storage_for,
)
from tipline.places.models import Unit
from tipline.tips.models import Category, Tip, TipPhoto
from tipline.tips.services import (
    TipDraft,
    new_submission_key,
    pending_photo,
    pending_photo_token,
    prune_orphan_photos,
    store_photo,
    submit_tip,
)

from .conftest import PASSWORD, IsolatedClient

REGION = "us-east-1"
PREFIX = "photos/"
NAME = "Ab" + "c" * 22 + ".jpg"
THUMB = "Ab" + "c" * 22 + ".thumb.jpg"
OTHER = "-_" + "x" * 22 + ".jpg"

HOSTILE_NAMES = [
    "../keep.txt",
    "../" + NAME,
    "/etc/passwd",
    "..",
    "",
    "ab/" + NAME,
    NAME + "/../../keep.txt",
    "..\\..\\" + "A" * 20 + ".jpg",
    "A" * 24 + ".png",
    "A" * 23 + ".jpg",
    NAME + "\n",
    NAME + "\x00",
    "A" * 24 + ".thumb.thumb.jpg",
    None,
    NAME.encode(),
]


def _jpeg(colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, "JPEG")
    return buffer.getvalue()


# ------------------------------------------------------------------- an S3 of our own


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: object

    def storage(self, prefix: str = PREFIX) -> S3Storage:
        return S3Storage(self.bucket, prefix, self.client)

    def keys(self) -> set[str]:
        return s3_keys(self.client, self.bucket)


def s3_keys(client, bucket: str) -> set[str]:
    response = client.list_objects_v2(Bucket=bucket)
    return {item["Key"] for item in response.get("Contents", ())}


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory):
    """Fake credentials, and nothing of this machine's AWS setup or proxies."""
    nothing = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(nothing / "config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nothing / "credentials"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield


@pytest.fixture(scope="module")
def moto_endpoint(aws_env):
    """moto's S3 server on a free loopback port, for this module's tests."""
    server_module = pytest.importorskip(
        "moto.server", reason="moto[server] is not importable", exc_type=ImportError
    )
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        server._server.server_close()  # stop() leaves the listening socket open


@pytest.fixture(scope="module")
def moto_client(moto_endpoint):
    client = s3_client(endpoint_url=moto_endpoint, region=REGION)
    yield client
    client.close()


@pytest.fixture
def s3(moto_endpoint, moto_client) -> S3:
    """A fresh bucket on the local S3 server."""
    client = moto_client
    bucket = f"tipline-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield S3(moto_endpoint, bucket, client)
    # moto keeps its buckets in this process for as long as it lives: leave none behind.
    for key in s3_keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)


# --------------------------------------------------------------- the same behaviour


@dataclass
class Backend:
    storage: PhotoStorage
    victim: str  # something just outside the store that no photo name may reach
    plant: object  # plant(key_or_relative_path, data): write around the interface
    present: object  # present(victim) -> bool


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        root = tmp_path / "photos"
        root.mkdir()
        (tmp_path / "keep.txt").write_text("keep")

        def plant(relative: str, data: bytes) -> None:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        return Backend(LocalStorage(root), "keep.txt", plant, lambda v: (tmp_path / v).exists())
    s3 = request.getfixturevalue("s3")
    s3.client.put_object(Bucket=s3.bucket, Key="keep.txt", Body=b"keep")

    def plant_object(key: str, data: bytes) -> None:
        s3.client.put_object(Bucket=s3.bucket, Key=PREFIX + key, Body=data)

    def present(key: str) -> bool:
        return key in s3_keys(s3.client, s3.bucket)

    return Backend(s3.storage(), "keep.txt", plant_object, present)


def test_a_stored_photo_reads_back_byte_for_byte(backend):
    data = _jpeg()
    backend.storage.put(NAME, data)
    assert backend.storage.get(NAME) == data
    assert backend.storage.exists(NAME)
    assert not backend.storage.exists(THUMB)


def test_put_replaces_what_was_stored_under_the_name(backend):
    backend.storage.put(NAME, b"first")
    backend.storage.put(NAME, b"second")
    assert backend.storage.get(NAME) == b"second"
    assert [name for name, _ in backend.storage.list()] == [NAME]


def test_a_missing_photo_is_file_not_found(backend):
    with pytest.raises(FileNotFoundError):
        backend.storage.get(NAME)
    assert not backend.storage.exists(NAME)


def test_delete_removes_only_the_named_photo_and_may_be_repeated(backend):
    backend.storage.put(NAME, b"image")
    backend.storage.put(THUMB, b"thumb")
    backend.storage.delete(NAME)
    backend.storage.delete(NAME)
    backend.storage.delete(OTHER)  # never stored
    assert not backend.storage.exists(NAME)
    with pytest.raises(FileNotFoundError):
        backend.storage.get(NAME)
    assert backend.storage.get(THUMB) == b"thumb"


def test_list_gives_every_photo_with_a_current_modification_time(backend):
    before = time.time()
    for name in (NAME, THUMB, OTHER):
        backend.storage.put(name, name.encode())
    listed = dict(backend.storage.list())
    assert set(listed) == {NAME, THUMB, OTHER}
    # A local file's time is to the minute, S3 keeps whole seconds.
    floor = before - before % 60
    assert all(floor - 2 <= modified <= time.time() + 2 for modified in listed.values())


def test_list_ignores_what_the_server_never_names(backend):
    backend.storage.put(NAME, b"image")
    backend.plant("notes.txt", b"x")
    backend.plant("Ab/notes.txt", b"x")
    backend.plant("Ab/." + NAME + ".0123456789abcdef.tmp", b"half written")
    assert [name for name, _ in backend.storage.list()] == [NAME]


def test_list_of_an_empty_store_is_empty(backend):
    assert list(backend.storage.list()) == []


def test_a_working_store_answers_ping(backend):
    assert backend.storage.ping() is True


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_the_server_never_makes_are_refused(backend, name):
    with pytest.raises(FileNotFoundError):
        backend.storage.get(name)
    assert backend.storage.exists(name) is False
    with pytest.raises(ValueError, match="not a server-made photo name"):
        backend.storage.put(name, b"overwrite")
    backend.storage.delete(name)  # refers to nothing: quietly ignored
    assert backend.present(backend.victim)
    assert list(backend.storage.list()) == []


def test_a_failed_save_leaves_neither_image_nor_thumbnail(backend, monkeypatch):
    storage = backend.storage
    real_put = storage.put
    calls = []

    def put_then_fail(name, data):
        calls.append(name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_put(name, data)

    monkeypatch.setattr(storage, "put", put_then_fail)
    processed = process_photo(_jpeg())
    with pytest.raises(OSError, match="No space"):
        save_photo(storage, processed)
    assert len(calls) == 2
    assert list(storage.list()) == []


def test_save_photo_stores_the_cleaned_image_and_its_thumbnail(backend):
    processed = process_photo(_jpeg())
    name, thumb = save_photo(backend.storage, processed)
    assert backend.storage.get(name) == processed.data
    assert backend.storage.get(thumb) == processed.thumb
    assert thumb == name.removesuffix(".jpg") + ".thumb.jpg"


# --------------------------------------------------------------- backend specifics


def test_local_ping_fails_when_the_folder_is_missing(tmp_path):
    assert LocalStorage(tmp_path / "nowhere").ping() is False


def test_local_store_writes_no_file_outside_its_folder(tmp_path):
    LocalStorage(tmp_path / "photos").put(NAME, b"image")
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"photos/{NAME[:2]}/{NAME}"]


def test_s3_objects_are_named_prefix_and_photo_name(s3):
    s3.storage().put(NAME, b"image")
    s3.storage("other/").put(OTHER, b"elsewhere")
    assert s3.keys() == {PREFIX + NAME, "other/" + OTHER}
    head = s3.client.head_object(Bucket=s3.bucket, Key=PREFIX + NAME)
    assert head["ContentType"] == "image/jpeg"
    # Each storage sees only its own prefix.
    assert [name for name, _ in s3.storage().list()] == [NAME]
    assert not s3.storage().exists(OTHER)


def test_s3_list_pages_through_many_objects(s3, monkeypatch):
    storage = s3.storage()
    names = {f"{i:024d}.jpg" for i in range(7)}
    for name in names:
        storage.put(name, b"x")
    paginate = storage.client.get_paginator("list_objects_v2").paginate
    pages = []

    class SmallPages:
        def paginate(self, **kwargs):
            for page in paginate(**kwargs, PaginationConfig={"PageSize": 2}):
                pages.append(page)
                yield page

    monkeypatch.setattr(storage.client, "get_paginator", lambda _operation: SmallPages())
    assert {name for name, _ in storage.list()} == names
    assert len(pages) == 4


def test_s3_ping_fails_for_a_missing_bucket(s3):
    assert S3Storage(f"{s3.bucket}-missing", PREFIX, s3.client).ping() is False


def test_s3_ping_fails_when_the_server_does_not_answer(aws_env):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = s3_client(
        endpoint_url=f"http://127.0.0.1:{port}",
        region=REGION,
        connect_timeout=1,
        retries={"max_attempts": 1},
    )
    try:
        assert S3Storage("tipline", PREFIX, client).ping() is False
    finally:
        client.close()


# ------------------------------------------------------------------------ the factory


def _close(app: Flask) -> None:
    storage = app.extensions.get(EXTENSION_KEY)
    if isinstance(storage, S3Storage):
        storage.client.close()


def _bare_app(**config) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    return app


def test_local_folder_is_the_default_and_made_once_per_app(tmp_path):
    app = _bare_app(UPLOAD_DIR=str(tmp_path))
    storage = storage_for(app)
    assert isinstance(storage, LocalStorage) and storage.root == tmp_path
    assert storage_for(app) is storage
    assert app.extensions[EXTENSION_KEY] is storage
    assert storage_for(_bare_app(UPLOAD_DIR=str(tmp_path))) is not storage


def test_s3_storage_is_chosen_by_configuration(s3):
    app = _bare_app(
        TIPLINE_PHOTO_STORAGE="s3",
        TIPLINE_S3_BUCKET=s3.bucket,
        TIPLINE_S3_PREFIX="tips/",
        TIPLINE_S3_ENDPOINT_URL=s3.endpoint,
        TIPLINE_S3_REGION=REGION,
    )
    storage = storage_for(app)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == (s3.bucket, "tips/")
    try:
        storage.put(NAME, b"image")
        assert s3.keys() == {"tips/" + NAME}
        assert storage_for(app) is storage
    finally:
        _close(app)


def test_s3_prefix_defaults_to_photos(s3):
    app = _bare_app(
        TIPLINE_PHOTO_STORAGE="s3",
        TIPLINE_S3_BUCKET=s3.bucket,
        TIPLINE_S3_ENDPOINT_URL=s3.endpoint,
        TIPLINE_S3_REGION=REGION,
    )
    try:
        assert storage_for(app).prefix == "photos/"
    finally:
        _close(app)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"TIPLINE_PHOTO_STORAGE": "s3"}, "TIPLINE_S3_BUCKET"),
        ({"TIPLINE_PHOTO_STORAGE": "ftp"}, "'local' or 's3'"),
    ],
)
def test_a_storage_that_cannot_work_is_refused_by_name(tmp_path, config, message):
    with pytest.raises(RuntimeError, match=message):
        storage_for(_bare_app(UPLOAD_DIR=str(tmp_path), **config))


# ---------------------------------------------------------------- through the app


@pytest.fixture(params=["local", "s3"])
def photo_app(request, app, world, other_app, tmp_path):
    """A second app on the shared database, with its photos in a folder of its own or in S3."""
    settings = {
        key: app.config[key]
        for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "TIPLINE_ROOT_UNIT")
    }
    settings.update(
        TESTING=True,
        RATELIMIT_ENABLED=False,
        WTF_CSRF_ENABLED=False,
        UPLOAD_DIR=str(tmp_path / "uploads"),
        TIPLINE_PHOTO_STORAGE=request.param,
    )
    if request.param == "s3":
        s3 = request.getfixturevalue("s3")
        settings.update(
            TIPLINE_S3_BUCKET=s3.bucket,
            TIPLINE_S3_ENDPOINT_URL=s3.endpoint,
            TIPLINE_S3_REGION=REGION,
        )
    built = other_app(settings)
    built.test_client_class = IsolatedClient
    try:
        yield built
    finally:
        _close(built)
        with built.app_context():
            db.engine.dispose()


def _submit_with_photo(app, world, unit_attr: str = "a1") -> tuple[str, str, str]:
    """Submit a tip with one photo in app; its photo's (public id, filename, thumb name)."""
    # Read the ids in the test's own session first: inside the other app's context the
    # test's objects would load through that app's engine and keep a connection of it.
    category_id, unit_id = world.theft.id, getattr(world, unit_attr).id
    with app.app_context():
        draft = TipDraft(
            submission_key=new_submission_key(),
            category=db.session.get(Category, category_id),
            unit=db.session.get(Unit, unit_id),
            description="Mất trộm xe máy trước cửa nhà văn hóa.",
            photos=[process_photo(_jpeg())],
        )
        tip = submit_tip(draft).tip
        db.session.commit()
        photo = tip.photos[0]
        return photo.public_id, photo.filename, photo.thumb_filename


def _login(app, name: str):
    client = app.test_client()
    response = client.post("/staff/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_a_leader_sees_the_photo_of_a_tip_in_their_village(photo_app, world):
    public_id, filename, thumb = _submit_with_photo(photo_app, world)
    with photo_app.app_context():
        storage = storage_for(photo_app)
        stored = {size: storage.get(name) for size, name in (("full", filename), ("thumb", thumb))}
    client = _login(photo_app, "leader_a1")
    for size in ("full", "thumb"):
        response = client.get(f"/staff/photos/{public_id}/{size}")
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.data == stored[size]
        assert response.data[:3] == b"\xff\xd8\xff"
        response.close()


def test_a_leader_of_another_village_gets_404_for_the_photo(photo_app, world):
    public_id, _, _ = _submit_with_photo(photo_app, world)
    client = _login(photo_app, "leader_a2")
    for size in ("full", "thumb"):
        assert client.get(f"/staff/photos/{public_id}/{size}").status_code == 404


def test_a_photo_gone_from_the_store_is_404(photo_app, world):
    public_id, filename, _ = _submit_with_photo(photo_app, world)
    with photo_app.app_context():
        storage_for(photo_app).delete(filename)
    client = _login(photo_app, "leader_a1")
    assert client.get(f"/staff/photos/{public_id}/full").status_code == 404
    assert client.get(f"/staff/photos/{public_id}/thumb").status_code == 200
    assert client.get(f"/staff/photos/{public_id}/original").status_code == 404


def test_photos_go_to_the_configured_store_only(photo_app, world, request):
    _, filename, thumb = _submit_with_photo(photo_app, world)
    upload_dir = pathlib.Path(photo_app.config["UPLOAD_DIR"])
    on_disk = {p.name for p in upload_dir.rglob("*") if p.is_file()}
    if photo_app.config["TIPLINE_PHOTO_STORAGE"] == "s3":
        assert request.getfixturevalue("s3").keys() == {PREFIX + filename, PREFIX + thumb}
        assert on_disk == set()
    else:
        assert on_disk == {filename, thumb}


def test_a_kept_photo_is_found_until_it_leaves_the_store(photo_app):
    with photo_app.app_context():
        stored = store_photo(process_photo(_jpeg()))
        token = pending_photo_token(stored)
        assert pending_photo(token) == stored
        storage_for(photo_app).delete(stored.filename)
        assert pending_photo(token) is None


def test_prune_deletes_only_old_photos_no_tip_refers_to(photo_app, world):
    _, filename, thumb = _submit_with_photo(photo_app, world)
    with photo_app.app_context():
        orphan = store_photo(process_photo(_jpeg((10, 200, 10))))
        removed = prune_orphan_photos(3600)
        assert removed == []  # the orphan is too young
        removed = prune_orphan_photos(3600, now=time.time() + 2 * 3600)
        assert sorted(removed) == sorted([orphan.filename, orphan.thumb_filename])
        storage = storage_for(photo_app)
        assert {name for name, _ in storage.list()} == {filename, thumb}
        assert db.session.query(TipPhoto).count() == 1
        assert db.session.query(Tip).count() == 1


@pytest.mark.commits  # the backup reads the database through a connection of its own
def test_backup_and_restore_carry_the_photos_of_either_store(photo_app, world, tmp_path):
    """`flask tipline backup` reads photos through the storage: an S3 bucket works too."""
    from tipline.ops.backup import backup, read_manifest, restore

    _, filename, thumb = _submit_with_photo(photo_app, world)
    # pg_restore must not wait for a transaction of the test's own session.
    db.session.commit()
    archive = tmp_path / "backup.tar"
    with photo_app.app_context():
        storage = storage_for(photo_app)
        original = {name: storage.get(name) for name in (filename, thumb)}
        summary = backup(photo_app, archive)
        assert summary.photos == 2
        assert set(read_manifest(archive)["photos"]) == {filename, thumb}
        # After the backup: a photo lost, an orphan added.
        storage.delete(filename)
        orphan = store_photo(process_photo(_jpeg((10, 10, 10))))
        restore(photo_app, archive)
        after = {name: storage.get(name) for name, _ in storage.list()}
    assert after == original
    assert orphan.filename not in after


# ------------------------------------------- modes and times of what a resident leaves

# A time with seconds and microseconds, so that any finer-than-minute time shows.
SECONDS_IN = datetime(2026, 3, 5, 2, 41, 37, 123456, tzinfo=UTC)
MINUTE_NS = 60 * 1_000_000_000


@contextmanager
def loose_umask():
    """The umask of a careless shell (0o022): modes must not depend on the caller's."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def assert_to_the_minute(path: pathlib.Path) -> None:
    info = path.stat()
    assert info.st_mtime_ns % MINUTE_NS == 0, (path, info.st_mtime_ns)
    assert info.st_atime_ns % MINUTE_NS == 0, (path, info.st_atime_ns)


def test_a_local_photo_and_its_folders_are_the_owners_only_and_timed_to_the_minute(tmp_path):
    root = tmp_path / "uploads"
    storage = LocalStorage(root)
    with loose_umask(), time_machine.travel(SECONDS_IN, tick=False):
        storage.put(NAME, b"image")
        storage.put(THUMB, b"thumb")
    path = storage.path(NAME)
    for file in (path, storage.path(THUMB)):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert_to_the_minute(file)
    for folder in (root, path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert_to_the_minute(folder)
    assert path.stat().st_mtime_ns == int(SECONDS_IN.timestamp()) // 60 * MINUTE_NS


def test_a_photo_being_written_is_already_private_and_timed_to_the_minute(tmp_path, monkeypatch):
    """The temporary file, as a crash would leave it: 0600, time to the minute."""
    seen = []

    def peek(name: str) -> None:
        if name == "storage.after_tmp_write":
            seen.extend(p for p in (tmp_path / "uploads").rglob("*.tmp"))
            for temporary in seen:
                assert stat.S_IMODE(temporary.stat().st_mode) == 0o600
                assert_to_the_minute(temporary)

    monkeypatch.setattr(storage_module, "crash_point", peek)
    with loose_umask(), time_machine.travel(SECONDS_IN, tick=False):
        LocalStorage(tmp_path / "uploads").put(NAME, b"image")
    assert len(seen) == 1


def test_times_a_resident_causes_are_kept_to_the_minute(app, world, client):
    """A submission (urgent: alerts wait in the outbox), a message and a later photo:
    every time column they write is to the minute, and so are the photo files."""
    from tipline.alerts.models import Notification
    from tipline.tips.models import TipEvent, TipMessage

    with loose_umask(), time_machine.travel(SECONDS_IN, tick=False):
        receipt = client.post(
            "/gui-tin?xa=A",
            data={
                "submission_key": new_submission_key(),
                "village": "A1",
                "category": "disturbance",
                "description": "Hai nhóm thanh niên đánh nhau ở bãi chợ.",
                "identity_tier": "anonymous",
                "photo": (io.BytesIO(_jpeg()), "a.jpg", "image/jpeg"),
            },
            content_type="multipart/form-data",
        )
        assert receipt.status_code == 200, receipt.get_data(as_text=True)[:1000]
        html = receipt.get_data(as_text=True)
        reference = re.search(r'id="reference">([^<]+)<', html).group(1)
        code = re.search(r'id="follow-up-code">([^<]+)<', html).group(1)
        assert (
            client.post("/tra-cuu", data={"reference": reference, "code": code}).status_code == 200
        )
        message = {"kind": "information", "body": "Họ đi xe máy màu đỏ."}
        assert client.post("/tra-cuu/tin-nhan", data=message).status_code == 303
        later = {"photo": (io.BytesIO(_jpeg((20, 90, 200))), "b.jpg", "image/jpeg")}
        answer = client.post("/tra-cuu/tin/anh", data=later, content_type="multipart/form-data")
        assert answer.status_code == 303

    tip = db.session.scalar(select(Tip).where(Tip.reference == reference))
    rows = {
        "tips": [tip],
        "tip_events": db.session.scalars(select(TipEvent).where(TipEvent.tip_id == tip.id)).all(),
        "tip_messages": db.session.scalars(
            select(TipMessage).where(TipMessage.tip_id == tip.id)
        ).all(),
        "notifications": db.session.scalars(
            select(Notification).where(Notification.tip_id == tip.id)
        ).all(),
        "tip_photos": list(tip.photos),
    }
    assert len(rows["tip_events"]) >= 3 and len(rows["tip_photos"]) == 2
    assert {m.kind for m in rows["notifications"]} == {"urgent_tip", "tipster_reply"}
    checked, coarse = set(), []
    for table, objects in rows.items():
        for row in objects:
            for column in row.__table__.columns:
                value = getattr(row, column.key)
                if isinstance(value, datetime):
                    checked.add(f"{table}.{column.name}")
                    if (value.second, value.microsecond) != (0, 0):
                        coarse.append(f"{table}.{column.name} = {value}")
    assert coarse == []
    assert {
        "tips.submitted_at",
        "tips.activity_at",
        "tip_events.at",
        "tip_messages.created_at",
        "notifications.created_at",
        "tip_photos.created_at",
    } <= checked
    storage = storage_for(app)
    if isinstance(storage, LocalStorage):
        for photo in tip.photos:
            for name in (photo.filename, photo.thumb_filename):
                file = storage.path(name)
                assert stat.S_IMODE(file.stat().st_mode) == 0o600
                assert_to_the_minute(file)
