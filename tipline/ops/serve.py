"""`flask tipline serve`: the development server (`make run`), on Werkzeug's `run_simple`.

What it adds to Werkzeug's server, through public hooks only:

- a request handler (:class:`TiplineRequestHandler`) whose log lines carry no client
  address, no user agent and no query string, with the time to the minute, and whose
  `Server` header names no version;
- a process umask of 0o077 and owner-only modes on the instance folder, the SQLite
  database and the photo folder, so nothing the app writes there is readable by others;
- background tasks (:data:`BackgroundTask`) run beside the server in the process that
  serves, stopped when it stops; one of them starts the alerts worker (`flask tipline
  worker`) as a child process and stops it on exit (`--no-worker`: not started). With the
  reloader, only the serving child starts it; `create_app` never does.

Production serves with gunicorn (gunicorn.conf.py), which keeps the same rules.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import ScriptInfo, pass_script_info
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, is_running_from_reloader, run_simple

__all__ = [
    "SERVER_NAME",
    "UMASK",
    "BackgroundTask",
    "TiplineRequestHandler",
    "minute_stamp",
    "serve",
    "serve_command",
    "tighten_instance",
    "worker_process",
]

# Files the app creates are its own only: 0600 files, 0700 folders.
UMASK = 0o077
# What the Server header says: no product version, no Python version.
SERVER_NAME = "Tipline"
# The time of a log line: to the minute, as gunicorn.conf.py writes it.
MINUTE_FORMAT = "%d/%b/%Y:%H:%M %z"

# A task run in a thread beside the server; it returns once `stop` is set.
BackgroundTask = Callable[[Flask, threading.Event], None]

_CONTROL_CHARACTERS = str.maketrans({c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]})
_logger = logging.getLogger("werkzeug")


def minute_stamp(moment: float | None = None) -> str:
    """A log line's time, to the minute (local time of the machine, with its offset)."""
    return time.strftime(MINUTE_FORMAT, time.localtime(moment))


class TiplineRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, logging `[minute] "METHOD /path HTTP/1.1" status size` only.

    The address, the user agent and the query string (a resident page may carry its
    commune in it) never reach the log; the Server header is "Tipline" alone.
    """

    @property
    def server_version(self) -> str:  # also WSGI's SERVER_SOFTWARE
        return SERVER_NAME

    def version_string(self) -> str:
        return SERVER_NAME

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        command = getattr(self, "command", None)
        path = getattr(self, "path", None)
        if command is None or path is None:  # a request line too broken to read
            request = "-"
        else:
            request = f"{command} {urlsplit(path).path} {self.request_version}"
        self.log("info", '"%s" %s %s', request.translate(_CONTROL_CHARACTERS), code, size)

    def log(self, type: str, message: str, *args: object) -> None:
        level = logging.ERROR if type == "error" else logging.INFO
        _logger.log(level, f"[{minute_stamp()}] {message}", *args)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.exists() and not path.is_symlink():
            path.chmod(mode)
    except OSError as error:  # someone else's file: say so, serve anyway
        _logger.warning("cannot set mode %o on %s: %s", mode, path, error)


def tighten_instance(app: Flask) -> None:
    """Owner-only modes on what earlier commands may have made with a looser umask.

    `flask db upgrade` creates the SQLite file, and the app's factory the instance and
    photo folders, before this command can set the umask. A folder of mode 0700 keeps
    everything inside it from other users, so photos are not walked one by one.
    """
    _chmod(Path(app.instance_path), 0o700)
    if (app.config.get("TIPLINE_PHOTO_STORAGE") or "local").strip().lower() == "local":
        _chmod(Path(app.config["UPLOAD_DIR"]), 0o700)
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database)
        for suffix in ("", "-wal", "-shm", "-journal"):
            _chmod(database.with_name(database.name + suffix), 0o600)


def _ensure_log_output() -> None:
    # As Werkzeug does for its own lines: to stderr unless logging is set up already.
    if _logger.level == logging.NOTSET:
        _logger.setLevel(logging.INFO)
    if not _logger.hasHandlers():
        _logger.addHandler(logging.StreamHandler())


def worker_command(app_import_path: str | None) -> list[str]:
    """The command line of the alerts worker, as this process was started (same app)."""
    app_option = ["--app", app_import_path] if app_import_path else []
    return [sys.executable, "-m", "flask", *app_option, "tipline", "worker"]


def worker_process(command: Sequence[str], *, restart_after: float = 5.0) -> BackgroundTask:
    """A task that runs the alerts worker as a child process, in the same environment.

    The child is told this process's id and ends by itself if this process disappears
    without stopping it (a SIGKILL); a child that dies is started again.
    """

    def task(app: Flask, stop: threading.Event) -> None:
        child: subprocess.Popen | None = None
        try:
            while not stop.is_set():
                if child is None or child.poll() is not None:
                    if child is not None:
                        _logger.error(
                            "alerts worker ended (code %s); starting it again", child.returncode
                        )
                        if stop.wait(restart_after):
                            break
                    child = subprocess.Popen(  # noqa: S603  # nosec B603
                        [*command, "--parent-pid", str(os.getpid())]
                    )
                    _logger.info("alerts worker started (pid %d)", child.pid)
                stop.wait(0.5)
        finally:
            if child is not None and child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                _logger.info("alerts worker stopped (pid %d)", child.pid)

    return task


def _exit_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl-C does: through `finally`, so tasks stop too."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def serve(
    app: Flask,
    host: str,
    port: int,
    *,
    reload: bool = False,
    debugger: bool = False,
    tasks: Sequence[BackgroundTask] = (),
) -> None:
    """Serve app until interrupted, with the background tasks running beside it."""
    os.umask(UMASK)
    tighten_instance(app)
    _ensure_log_output()
    # With the reloader, the first process only watches files: the child serves and
    # runs the tasks.
    serving = not reload or is_running_from_reloader()
    _exit_on_sigterm()
    stop = threading.Event()
    threads = [
        threading.Thread(target=task, args=(app, stop), name=f"tipline-task-{n}", daemon=True)
        for n, task in enumerate(tasks if serving else ())
    ]
    for thread in threads:
        thread.start()
    try:
        run_simple(
            host,
            port,
            app,
            use_reloader=reload,
            use_debugger=debugger,
            threaded=True,
            request_handler=TiplineRequestHandler,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=5000,
    show_default=True,
    help="Port to listen on (0: any free port, shown at start).",
)
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Restart when the code changes (default: on with --debug).",
)
@click.option(
    "--debug/--no-debug",
    default=None,
    help="Werkzeug's interactive debugger and reloader (developers only; never in production).",
)
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help="Start the alerts worker (`flask tipline worker`) beside the server, stop it on exit.",
)
@pass_script_info
def serve_command(
    info: ScriptInfo,
    host: str,
    port: int,
    reload: bool | None,
    debug: bool | None,
    worker: bool,
) -> None:
    """Serve the app for development and demos (`make run`); production uses gunicorn."""
    app = info.load_app()
    if debug is None:
        debug = app.debug
    if debug and app.config.get("TIPLINE_PRODUCTION"):
        raise click.UsageError("--debug is refused when TIPLINE_ENV=production.")
    app.debug = debug
    tasks = [worker_process(worker_command(info.app_import_path))] if worker else []
    serve(app, host, port, reload=debug if reload is None else reload, debugger=debug, tasks=tasks)
