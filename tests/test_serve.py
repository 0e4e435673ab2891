"""The servers as `make run` and production start them: `flask tipline serve` and gunicorn
with gunicorn.conf.py. Each is started for real on 127.0.0.1 (a free port), asked for a
resident page with a query string and a user agent, and its log line, its Server header
and the modes of the files it made are checked.
"""

from __future__ import annotations

import os
import queue
import re
import runpy
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.commits  # a real server in a subprocess

USER_AGENT = "ServeProbe/7f3a9c (Linux; Android 14)"
# A minute-precise time as both servers write it: [05/Mar/2026:09:41 +0700].
MINUTE_TIME = r"\[\d{2}/\w{3}/\d{4}:\d{2}:\d{2} [+-]\d{4}\]"
# A time with seconds: 2026:09:41:37 (access logs) or 2026-03-05 09:41:37 (error logs).
SECONDS_TIME = r"(?:\d{4}:|[ T])\d{2}:\d{2}:\d{2}"


class Output:
    """The lines of a child process's stream, read in a thread, waited for with a limit."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.stream = stream
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def close(self) -> None:
        """After the process ended: the reader sees the end of the stream."""
        self.reader.join(timeout=20)
        self.stream.close()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r} in: {''.join(self.seen)}")
            if line is None:
                pytest.fail(f"the process ended before {pattern!r}: {''.join(self.seen)}")
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match


def instance_env(tmp_path: Path) -> dict[str, str]:
    """A fresh instance folder and SQLite file: what the server makes is what we check."""
    instance = tmp_path / "instance"
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "TIPLINE_INSTANCE_DIR": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'tipline.db'}",
        "UPLOAD_DIR": str(instance / "uploads"),
        "RATELIMIT_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("TIPLINE_ENV", "REDIS_URL", "TIPLINE_PHOTO_STORAGE", "FLASK_DEBUG"):
        env.pop(name, None)
    return env


def fetch(url: str):
    # Only http://127.0.0.1 URLs made by these tests.
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def assert_owner_only(instance: Path) -> None:
    """The database, the photo folder and the instance folder are the owner's alone."""
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "uploads").stat().st_mode) == 0o700
    database = instance / "tipline.db"
    assert database.exists()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def assert_request_line_is_clean(line: str, path: str) -> None:
    assert re.search(MINUTE_TIME, line), line
    assert not re.search(SECONDS_TIME, line), line
    assert "127.0.0.1" not in line, line
    assert "ServeProbe" not in line and "Android" not in line, line
    assert "?" not in line and "xa=" not in line, line
    assert re.search(rf'"GET {re.escape(path)}[ "]', line), line


# --- flask tipline serve -------------------------------------------------------------------


@pytest.fixture
def dev_server(tmp_path):
    """`flask tipline serve` on any free port, started by a shell with a loose umask."""
    env = instance_env(tmp_path)
    # Only the serve command runs: the database does not exist yet, so SQLite creates it
    # under the command's own umask when the first request reads it.
    server = subprocess.Popen(
        [
            "/bin/sh",
            "-c",
            'umask 022 && exec "$0" -m flask tipline serve --host 127.0.0.1 --port 0',
            sys.executable,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(server.stdout)
    try:
        port = int(output.wait_for(r"Running on http://127\.0\.0\.1:(\d+)").group(1))
        yield SimpleNamespace(port=port, output=output, instance=tmp_path / "instance")
    finally:
        server.terminate()
        server.wait(timeout=20)
        output.close()


def test_the_dev_server_logs_a_request_to_the_minute_without_the_client(dev_server):
    status, headers = fetch(f"http://127.0.0.1:{dev_server.port}/gui-tin?xa=A")
    line = dev_server.output.wait_for(r'"GET /gui-tin').string
    assert_request_line_is_clean(line, "/gui-tin")
    assert f'" {status} ' in line
    assert headers.get("Server") == "Tipline"
    assert "X-Powered-By" not in headers


def test_the_dev_server_makes_its_files_the_owners_only(dev_server):
    # The health check opens the database: SQLite creates the file under serve's umask.
    status, _headers = fetch(f"http://127.0.0.1:{dev_server.port}/healthz")
    assert status == 200
    dev_server.output.wait_for(r'"GET /healthz ')
    assert_owner_only(dev_server.instance)


def test_serve_tightens_what_earlier_commands_left_readable(tmp_path):
    """`flask db upgrade` run from a loose shell leaves 0644: the serve command narrows it."""
    from tipline.ops.serve import tighten_instance

    instance = tmp_path / "instance"
    (instance / "uploads").mkdir(parents=True, mode=0o755)
    instance.chmod(0o755)
    database = instance / "tipline.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    app = SimpleNamespace(
        instance_path=str(instance),
        config={
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "UPLOAD_DIR": str(instance / "uploads"),
        },
    )
    tighten_instance(app)
    assert_owner_only(instance)


def test_background_tasks_run_beside_the_server_and_stop_with_it(monkeypatch):
    from tipline.ops import serve as serve_module

    started, stopped = threading.Event(), threading.Event()

    def task(app, stop: threading.Event) -> None:
        started.set()
        stop.wait()
        stopped.set()

    def run_simple(host, port, app, **options):
        assert started.wait(10)  # the task runs while the server serves
        assert options["request_handler"] is serve_module.TiplineRequestHandler

    monkeypatch.setattr(serve_module, "run_simple", run_simple)
    monkeypatch.setattr(serve_module, "tighten_instance", lambda app: None)
    previous = os.umask(0o022)
    try:
        serve_module.serve(SimpleNamespace(), "127.0.0.1", 0, tasks=[task])
        assert os.umask(0o022) == serve_module.UMASK
    finally:
        os.umask(previous)
    assert stopped.is_set()


# --- gunicorn with gunicorn.conf.py ---------------------------------------------------------


def gunicorn_settings() -> dict:
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_access_log_atoms_hold_nothing_of_the_client():
    """Even a format that asks for the address, agent, query or a header gets '-'."""
    from gunicorn.config import Config
    from gunicorn.glogging import SafeAtoms

    settings = gunicorn_settings()
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    logger = settings["logger_class"](config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/gui-tin?xa=A",
        "PATH_INFO": "/gui-tin",
        "QUERY_STRING": "xa=A",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "198.18.7.9",
        "HTTP_USER_AGENT": USER_AGENT,
        "HTTP_X_FORWARDED_FOR": "198.18.7.9",
    }
    request = SimpleNamespace(
        headers=[("USER-AGENT", USER_AGENT), ("X-FORWARDED-FOR", "198.18.7.9")]
    )
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[])
    atoms = SafeAtoms(logger.atoms(response, request, environ, timedelta(milliseconds=12)))
    greedy = (
        "%(h)s %(a)s %(q)s %(r)s %(f)s %({x-forwarded-for}i)s %({user-agent}i)s "
        "%({remote_addr}e)s %({http_user_agent}e)s"
    )
    everything = greedy % atoms  # noqa: UP031 (formatted as gunicorn formats)
    assert "198.18.7.9" not in everything and "ServeProbe" not in everything
    assert "xa=" not in everything
    line = settings["access_log_format"] % atoms
    assert_request_line_is_clean(line, "/gui-tin")


def test_gunicorn_logs_a_request_to_the_minute_and_makes_its_files_the_owners_only(tmp_path):
    env = {
        **instance_env(tmp_path),
        "GUNICORN_BIND": "127.0.0.1:0",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "1",
        "GUNICORN_ACCESS_LOG": "-",
    }
    server = subprocess.Popen(
        [
            "/bin/sh",
            "-c",
            'umask 022 && exec "$0" -m gunicorn -c gunicorn.conf.py wsgi:app',
            sys.executable,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(server.stdout)
    try:
        listening = output.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)")
        port = int(listening.group(1))
        assert not re.search(SECONDS_TIME, listening.string), listening.string
        output.wait_for("Booting worker")
        status, headers = fetch(f"http://127.0.0.1:{port}/gui-tin?xa=A")
        line = output.wait_for(r'"GET /gui-tin').string
        assert_request_line_is_clean(line, "/gui-tin")
        assert f'" {status} ' in line
        assert not re.search(r"\d", headers.get("Server", ""))
        assert fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200  # SQLite makes its file
        output.wait_for(r'"GET /healthz"')
        assert_owner_only(tmp_path / "instance")
    finally:
        server.terminate()
        server.wait(timeout=20)
        output.close()


def test_flask_error_log_keeps_times_to_the_minute(app):
    """Flask's own handler logs errors raised inside residents' requests: no seconds."""
    import logging

    from flask.logging import default_handler

    record = logging.LogRecord(
        "tipline", logging.ERROR, __file__, 1, "database unavailable", (), None
    )
    record.created = 1_780_000_000.123  # a time with seconds and milliseconds
    line = default_handler.format(record)
    assert re.search(r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2} [+-]\d{4}\] ERROR", line), line
