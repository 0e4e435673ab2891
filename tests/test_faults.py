"""Faults on purpose: a full disk, a process killed mid-upload, the database going away.

Named crash points (tipline/core/faults.py) make each fault happen at one known place.
Whatever fails, nothing is half-saved: no tip without its photos, no photo file half
written, counters equal to the tips, and the app serves again once the fault is gone.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tipline.core import faults
from tipline.extensions import db
from tipline.media.storage import EXTENSION_KEY, TEMPORARY_RE, LocalStorage
from tipline.tips import counts
from tipline.tips.models import Tip, TipPhoto
from tipline.tips.services import hash_submission_key, new_submission_key

pytestmark = pytest.mark.commits  # killed workers, cut connections: real commits

ROOT = Path(__file__).resolve().parents[1]
STORAGE_POINTS = ("storage.before_tmp_write", "storage.after_tmp_write", "storage.after_rename")


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def tip_form(world, key: str | None = None, photo: bytes | None = None) -> dict:
    data = {
        "submission_key": key or new_submission_key(),
        "village": world.a1.code,
        "category": world.theft.code,
        "description": "Có người lạ đột nhập kho hợp tác xã lúc nửa đêm.",
        "identity_tier": "anonymous",
    }
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), "anh.jpg", "image/jpeg")
    return data


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def tip_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Tip.id)))


@pytest.fixture
def uploads(app, tmp_path):
    """The app's photo store, for this test only: an empty folder."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    saved = app.extensions.get(EXTENSION_KEY)
    app.extensions[EXTENSION_KEY] = LocalStorage(folder)
    yield folder
    faults.disarm()
    if saved is None:
        app.extensions.pop(EXTENSION_KEY, None)
    else:
        app.extensions[EXTENSION_KEY] = saved


# --- the crash points themselves ---------------------------------------------------------


def test_an_unarmed_crash_point_does_nothing_and_unknown_names_are_refused():
    faults.crash_point("storage.after_rename")  # nothing armed: no effect
    with pytest.raises(ValueError, match="unknown crash point"):
        faults.arm("storage.no_such_point")
    with pytest.raises(ValueError, match="unknown crash action"):
        faults.arm("storage.after_rename", "explode")


def test_an_armed_point_lets_the_skipped_passes_through_then_fires():
    with faults.armed("storage.after_rename", "raise", skip=2):
        faults.crash_point("storage.after_rename")
        faults.crash_point("storage.after_rename")
        with pytest.raises(faults.CrashPointReached):
            faults.crash_point("storage.after_rename")
    faults.crash_point("storage.after_rename")  # disarmed on leaving the block


# --- a full disk -------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["storage.before_tmp_write", "storage.after_tmp_write"])
@pytest.mark.parametrize("skip", [0, 1], ids=["thumbnail", "image"])
def test_full_disk_on_upload_is_a_clear_error_and_saves_nothing(
    client, world, uploads, point, skip
):
    faults.arm(point, "enospc", skip=skip)
    response = client.post(
        "/gui-tin?xa=A", data=tip_form(world, photo=jpeg()), content_type="multipart/form-data"
    )
    # The form comes back with the message at the photo field and the typed text kept.
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "không còn chỗ lưu ảnh" in html and "không kèm ảnh" in html
    assert "Có người lạ đột nhập kho hợp tác xã lúc nửa đêm." in html
    assert tip_count() == 0
    assert files_under(uploads) == []  # neither a temporary file nor the thumbnail remain
    assert counts.differences() == {}


def test_text_only_tips_still_work_while_the_disk_is_full(client, world, uploads):
    faults.arm("storage.before_tmp_write", "enospc")  # every photo write fails
    refused = client.post(
        "/gui-tin?xa=A", data=tip_form(world, photo=jpeg()), content_type="multipart/form-data"
    )
    assert refused.status_code == 422
    response = client.post("/gui-tin?xa=A", data=tip_form(world))
    assert response.status_code == 200
    assert 'id="follow-up-code"' in response.get_data(as_text=True)
    assert tip_count() == 1
    assert counts.differences() == {}


def test_a_real_os_error_that_is_not_a_full_disk_is_not_disguised(app, uploads):
    faults.arm("storage.after_tmp_write", "raise")
    store = LocalStorage(uploads)
    with pytest.raises(faults.CrashPointReached):
        store.put("A" * 24 + ".jpg", b"data")
    assert files_under(uploads) == []


@pytest.mark.parametrize("point", STORAGE_POINTS)
@pytest.mark.parametrize("skip", [0, 1], ids=["thumbnail", "image"])
def test_an_exception_at_any_storage_point_leaves_no_file_and_no_tip(
    client, world, uploads, point, skip
):
    faults.arm(point, "raise", skip=skip)
    response = client.post(
        "/gui-tin?xa=A", data=tip_form(world, photo=jpeg()), content_type="multipart/form-data"
    )
    assert response.status_code == 500  # an unknown fault: the generic page, never a trace
    assert "Traceback" not in response.get_data(as_text=True)
    assert tip_count() == 0
    assert files_under(uploads) == []


@pytest.mark.parametrize("point", ["submit.after_photos", "submit.after_flush"])
def test_an_exception_in_the_submission_saves_no_tip_and_the_retry_works(
    client, world, uploads, runner, point
):
    data = tip_form(world, photo=jpeg())
    key = data["submission_key"]
    faults.arm(point, "raise")
    response = client.post("/gui-tin?xa=A", data=data, content_type="multipart/form-data")
    assert response.status_code == 500
    assert tip_count() == 0 and counts.differences() == {}
    faults.disarm()
    # The photo files stored before the failure are whole, and orphans the sweep removes.
    assert all(path.read_bytes()[:2] == b"\xff\xd8" for path in files_under(uploads))
    retried = client.post(
        "/gui-tin?xa=A", data=tip_form(world, key, photo=jpeg()), content_type="multipart/form-data"
    )
    assert retried.status_code == 200
    assert tip_count() == 1 and counts.differences() == {}


# --- the sweeper ---------------------------------------------------------------------------


def test_prune_sweeps_stale_temporary_files_only(app, runner, world, uploads):
    name = "Qw" + "e" * 22 + ".jpg"
    folder = uploads / name[:2]
    folder.mkdir()
    stale = folder / f".{name}.{'a' * 16}.tmp"
    fresh = folder / f".{name}.{'b' * 16}.tmp"
    unrelated = folder / "notes.tmp"
    for path in (stale, fresh, unrelated):
        path.write_bytes(b"half a photo")
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))
    os.utime(unrelated, (old, old))
    assert TEMPORARY_RE.fullmatch(stale.name)
    result = runner.invoke(args=["tipline", "photos", "prune"])
    assert result.exit_code == 0, result.output
    assert "Removed 1 stale temporary files." in result.output
    assert not stale.exists() and fresh.exists() and unrelated.exists()


# --- a worker killed at each point of an upload ------------------------------------------

WORKER = """
import io, os, sys
from tipline import create_app
app = create_app({
    "TESTING": True, "SECRET_KEY": os.environ["T_SECRET"],
    "SQLALCHEMY_DATABASE_URI": os.environ["T_DATABASE"], "UPLOAD_DIR": os.environ["T_UPLOADS"],
    "TIPLINE_ROOT_UNIT": "T", "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
})
data = {"submission_key": os.environ["T_KEY"], "village": "A1", "category": "theft",
        "description": "Có người lạ đột nhập kho hợp tác xã lúc nửa đêm.",
        "identity_tier": "anonymous",
        "photo": (open(os.environ["T_PHOTO"], "rb"), "anh.jpg", "image/jpeg")}
response = app.test_client().post("/gui-tin?xa=A", data=data, content_type="multipart/form-data")
print(response.status_code)
"""

# (point, passes to let through): the thumbnail is written first, then the image.
KILL_POINTS = [
    ("storage.before_tmp_write", 0),
    ("storage.after_tmp_write", 0),
    ("storage.after_rename", 0),
    ("storage.before_tmp_write", 1),
    ("storage.after_tmp_write", 1),
    ("storage.after_rename", 1),
    ("submit.after_photos", 0),
    ("submit.after_flush", 0),
]


def _run_worker(
    app, tmp_path, uploads: Path, key: str, env_extra: dict
) -> subprocess.CompletedProcess:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "T_SECRET": app.config["SECRET_KEY"],
        "T_DATABASE": app.config["SQLALCHEMY_DATABASE_URI"],
        "T_UPLOADS": str(uploads),
        "T_KEY": key,
        "T_PHOTO": str(photo),
        **env_extra,
    }
    env.pop("TIPLINE_ENV", None)
    return subprocess.run(
        [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.parametrize(("point", "skip"), KILL_POINTS, ids=[f"{p}+{s}" for p, s in KILL_POINTS])
def test_a_worker_killed_mid_upload_leaves_nothing_half_done(
    app, world, tmp_path, uploads, runner, point, skip
):
    key = new_submission_key()
    killed = _run_worker(
        app,
        tmp_path,
        uploads,
        key,
        {
            "TIPLINE_CRASH_POINT": point,
            "TIPLINE_CRASH_ACTION": "kill",
            "TIPLINE_CRASH_SKIP": str(skip),
        },
    )
    assert killed.returncode == -9, (killed.returncode, killed.stdout, killed.stderr[-2000:])
    # Nothing committed: no tip, no photo row, counters untouched.
    assert tip_count() == 0
    assert db.session.scalar(select(func.count(TipPhoto.id))) == 0
    assert counts.differences() == {}
    # Whatever files remain are whole photos or temporary files, never a half-written photo.
    for path in files_under(uploads):
        assert TEMPORARY_RE.fullmatch(path.name) or path.read_bytes()[:2] == b"\xff\xd8", path
    # The daily sweep leaves the store empty (0: everything counts as stale here).
    result = runner.invoke(
        args=["tipline", "photos", "prune", "--older-than-hours", "0",
              "--temporary-older-than-minutes", "0"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert files_under(uploads) == []
    # The resident sends the same form again: it goes through, once.
    retried = _run_worker(app, tmp_path, uploads, key, {})
    assert retried.returncode == 0 and retried.stdout.strip() == "200", retried.stderr[-2000:]
    assert tip_count() == 1
    photo = db.session.scalar(select(TipPhoto))
    assert (uploads / photo.filename[:2] / photo.filename).is_file()
    assert (uploads / photo.thumb_filename[:2] / photo.thumb_filename).is_file()
    assert counts.differences() == {}


# --- the database going away (PostgreSQL through a proxy the test cuts) -------------------


class CuttableProxy:
    """A TCP proxy to PostgreSQL; `cut()` drops every connection and refuses new ones."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.is_cut = False
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.is_cut:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.is_cut = True
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.skipif(
    not os.environ.get("TIPLINE_TEST_DATABASE_URL"), reason="needs TIPLINE_TEST_DATABASE_URL"
)
def test_postgres_going_away_under_load_gives_503s_and_the_app_recovers(app, world, other_app):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        through = url.set(host="127.0.0.1", port=proxy.port)
        served = other_app(
            {
                "TESTING": True,
                "SECRET_KEY": app.config["SECRET_KEY"],
                "SQLALCHEMY_DATABASE_URI": through.render_as_string(hide_password=False),
                "UPLOAD_DIR": app.config["UPLOAD_DIR"],
                "TIPLINE_ROOT_UNIT": "T",
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        accepted: list[str] = []
        refused: list[str] = []
        statuses: list[int] = []
        unclear: list[int] = []  # 503s without the explanation or the Retry-After
        lock = threading.Lock()

        template = tip_form(world)  # read here: the world's rows belong to this thread

        def post(key: str | None = None) -> int:
            key = key or new_submission_key()
            data = {**template, "submission_key": key}
            response = served.test_client().post("/gui-tin?xa=A", data=data)
            status = response.status_code
            clear = response.headers.get("Retry-After") == "30" and (
                "chưa lưu được gì" in response.get_data(as_text=True)
            )
            with lock:
                statuses.append(status)
                if status == 200:
                    accepted.append(key)
                else:
                    refused.append(key)
                if status == 503 and not clear:
                    unclear.append(status)
                if len(statuses) == 8:
                    proxy.cut()  # the database goes away after the first eight answers
            return status

        # Load: four threads posting six forms each.
        threads = [threading.Thread(target=lambda: [post() for _ in range(6)]) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert proxy.is_cut
        assert len(statuses) == 24 and set(statuses) <= {200, 503}, statuses  # never a 500
        assert statuses.count(200) >= 8 and 503 in statuses and unclear == []
        client = served.test_client()
        assert client.get("/").status_code == 503
        assert client.get("/healthz").status_code == 503
        assert (
            client.post(
                "/tra-cuu", data={"reference": "TL-AAAA-BBBB", "code": "A" * 16}
            ).status_code
            == 503
        )
        # Back again: the same app, no restart, serves and saves.
        proxy.restore()
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200
        assert post() == 200
        # Every 200 is a saved tip. A 503 saved nothing, except perhaps a commit that
        # reached the server just as the connection was cut (one per thread at most):
        # sending the same form again then shows that tip's receipt, never a second tip.
        saved = set(db.session.scalars(select(Tip.submission_key)))
        with app.test_request_context():
            hashed = {key: hash_submission_key(key) for key in accepted + refused}
        assert {hashed[key] for key in accepted} <= saved
        assert len(saved - {hashed[key] for key in accepted}) <= 4
        resent = list(refused)
        refused.clear()
        assert [post(key) for key in resent] == [200] * len(resent)
        assert tip_count() == len(set(accepted))
        assert counts.differences() == {}
    finally:
        proxy.close()
