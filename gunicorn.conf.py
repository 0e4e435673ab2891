"""gunicorn settings from the environment: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import multiprocessing
import os
import time

from gunicorn.glogging import Logger

bind = os.environ.get(
    "GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Bound the time a slow client can hold a worker while sending a photo.
limit_request_line = 4094
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200


class MinuteLogger(Logger):
    """gunicorn's logger with every time to the minute and nothing of the client.

    %(t)s and the error log's times are to the minute (gunicorn's own are to the second).
    The client address, user agent, referrer, query string and every request header or
    environ atom read as "-", so a format edited later cannot log them either.
    """

    datefmt = r"[%Y-%m-%d %H:%M %z]"  # the error log's time

    def now(self) -> str:
        return time.strftime("[%d/%b/%Y:%H:%M %z]")

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        kept = {k: v for k, v in atoms.items() if not k.endswith(("}i", "}e"))}
        kept.update(h="-", a="-", f="-", q="-", u="-")
        kept["r"] = f"{kept['m']} {kept['U']} {kept['H']}"  # the request line, no query
        return kept


logger_class = MinuteLogger
# Access log without the client address (%(h)s) or user agent (%(a)s): nothing that could
# identify a tipster is logged. Time to the minute, method, path, status, size, duration.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"

# Files the app writes (SQLite database, photos, temporaries, backups) are the owner's
# only. gunicorn's `umask` covers its own socket and temporary files; the hooks set the
# process umask of the master and of each worker before it loads the app. Log files named
# by path are opened before the hooks run: systemd's UMask=0077 covers them.
umask = 0o077


def on_starting(server) -> None:
    os.umask(umask)


def post_fork(server, worker) -> None:
    os.umask(umask)


loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind a proxy that sets X-Forwarded-Proto; the address headers are never used.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
