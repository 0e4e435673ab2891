"""Keeping residents untraceable: no IP address or user agent is stored or logged."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time

from flask import current_app, request

# DOMAIN.md: public figures never show a number small enough to point at a person; fewer
# than this is shown as "< 3" (reports.disclosure.protect, the templates' public_number).
SMALL_NUMBER = 3

_ADDRESS_PREFIX = re.compile(r"^\S+ - - ")


def client_bucket() -> str:
    """A rate-limit key: a keyed hash of the client address that changes every hour.

    The address itself never leaves this function; the hash cannot be linked
    across hours, so the limiter's storage holds nothing that identifies a person.
    """
    hour = int(time.time() // 3600)
    secret = current_app.config["SECRET_KEY"].encode()
    key = hmac.new(secret, f"client-bucket:{hour}".encode(), hashlib.sha256).digest()
    address = (request.remote_addr or "").encode()
    return hmac.new(key, address, hashlib.sha256).hexdigest()[:32]


class DropClientAddress(logging.Filter):
    """Strips the client address werkzeug's development server puts first on each line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _ADDRESS_PREFIX.sub("- - ", record.msg)
        return True


def install_log_filters() -> None:
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropClientAddress) for f in logger.filters):
        logger.addFilter(DropClientAddress())
