"""Fetching a partner's media_url without letting it reach inside our network (SSRF).

Only http and https; the host is resolved once and every address it has must be a
public one (no private, loopback, link-local, reserved or multicast address), and the
connection goes to that very address (a DNS answer that changes in between cannot
redirect it). No redirects are followed, no cookies or credentials are sent, and the
body is read up to the photo size limit within a deadline. The bytes then go through
process_photo like any upload. Tests may allow 127.0.0.1 (a local test server).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l


class MediaError(ValueError):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return True
    return bool(
        current_app.config.get("TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK") and str(ip) == "127.0.0.1"
    )


def _address(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise MediaError(_l("Không tải được ảnh từ media_url: không tìm thấy máy chủ.")) from None
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(_allowed(a) for a in addresses):
        raise MediaError(_l("media_url phải trỏ tới một máy chủ công khai."))
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def fetch_media(url: str) -> bytes:
    """The bytes at `url`, within the limits above; MediaError says what went wrong."""
    config = current_app.config
    timeout = float(config["TIPLINE_OPEN311_MEDIA_TIMEOUT"])
    if timeout <= 0:
        raise MediaError(_l("Hệ thống không tải ảnh qua media_url: hãy gửi ảnh kèm (media)."))
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise MediaError(_l("media_url không hợp lệ.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise MediaError(_l("media_url không hợp lệ."))
    address = _address(parts.hostname, port)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(parts.hostname, address, port, timeout)
    limit = config["TIPLINE_MAX_PHOTO_BYTES"]
    deadline = time.monotonic() + timeout
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("GET", path, headers={"Accept": "image/*", "User-Agent": "Tipline"})
        response = connection.getresponse()
        if response.status != 200:
            raise MediaError(
                _l("Không tải được ảnh từ media_url (mã %(status)d).", status=response.status)
            )
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise MediaError(_l("Ảnh ở media_url quá lớn."))
        chunks, size = [], 0
        while size <= limit:
            if time.monotonic() > deadline:
                raise MediaError(_l("Tải ảnh từ media_url quá lâu."))
            chunk = response.read(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise MediaError(_l("Ảnh ở media_url quá lớn."))
        return b"".join(chunks)
    except (OSError, http.client.HTTPException):
        raise MediaError(_l("Không tải được ảnh từ media_url.")) from None
    finally:
        connection.close()
