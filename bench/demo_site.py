"""The demo site, served by gunicorn on a free local port, for the Lighthouse and screenshot runs.

The demo database is built once into bench/out/demo-instance (about a minute) and reused.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
INSTANCE = ROOT / "bench" / "out" / "demo-instance"


def _env() -> dict:
    env = dict(os.environ)
    env.update(
        FLASK_APP="wsgi.py",
        TIPLINE_INSTANCE_DIR=str(INSTANCE),
        RATELIMIT_ENABLED="0",
        GUNICORN_ACCESS_LOG="/dev/null",
        GUNICORN_LOG_LEVEL="warning",
    )
    env.pop("TIPLINE_ENV", None)
    return env


def build() -> None:
    INSTANCE.mkdir(parents=True, exist_ok=True)
    flask = str(VENV / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=_env(), check=True)
    subprocess.run([flask, "tipline", "demo", "--if-empty"], cwd=ROOT, env=_env(), check=True)
    # What `flask tipline serve` does by itself: the worker finds each alert's recipients,
    # so the alerts page and the menu's count show the demo's last days (jobs left out).
    worker = [flask, "tipline", "worker", "--once", "--no-jobs"]
    subprocess.run(worker, cwd=ROOT, env=_env(), check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(workers: int = 2):
    """Yield the base URL of the demo site served by gunicorn; stop it afterwards."""
    build()
    port = _free_port()
    env = _env()
    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers))
    server = subprocess.Popen(
        [str(VENV / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(base + "/robots.txt", timeout=2).close()
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the demo server did not start")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def first_commune_code(base: str) -> str:
    """The first commune of the step-1 list."""
    html = urllib.request.urlopen(base + "/gui-tin", timeout=10).read().decode()
    return re.findall(r'<option value="([^"]+)">', html)[0]


def commune_code(base: str, name: str) -> str:
    """The code of a commune of the step-1 list, by its name."""
    html = urllib.request.urlopen(base + "/gui-tin", timeout=10).read().decode()
    return re.search(rf'<option value="([^"]+)">{re.escape(name)}<', html).group(1)


def send_tip(base: str, commune: str) -> tuple[str, str]:
    """Post one anonymous tip like the no-JavaScript form does; return (reference, code)."""
    import urllib.parse

    html = urllib.request.urlopen(f"{base}/gui-tin?xa={commune}", timeout=10).read().decode()
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', html).group(1)
    category = re.search(r'name="category"[^>]*value="([^"]+)"', html).group(1)
    data = {
        "submission_key": key,
        "village": "",
        "category": category,
        "description": "Nhóm thanh niên tụ tập đua xe, nẹt pô sau 11 giờ đêm ở đường liên thôn.",
        "identity_tier": "anonymous",
    }
    request = urllib.request.Request(
        f"{base}/gui-tin?xa={commune}",
        data=urllib.parse.urlencode(data).encode(),
        headers={"Origin": base},
    )
    receipt = urllib.request.urlopen(request, timeout=30).read().decode()
    reference = re.search(r'id="reference">([^<]+)<', receipt).group(1).strip()
    code = re.search(r'id="follow-up-code">([^<]+)<', receipt).group(1).strip()
    return reference, code


if __name__ == "__main__":
    build()
    sys.exit(0)
