"""Fetching a partner's media_url without letting it reach inside our network (SSRF).

Only http and https; the host is resolved once and every address it has must be a
public one (no private, loopback, link-local, reserved or multicast address, also when
written inside an IPv6 form: IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), and the
connection goes to that very address (a DNS answer that changes in between cannot
redirect it). No redirects are followed, no cookies or credentials are sent, and the
body is read up to the photo size limit. One deadline covers the whole fetch: every
connect, send and receive waits at most for what is left of it, so a server that sends a
byte now and then cannot hold a worker. The bytes then go through process_photo like any
upload. Tests may allow 127.0.0.1 (a local test server).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 (RFC 6052, RFC 8215): the well-known prefix carries the IPv4 address in its last
# 32 bits; the local-use prefix is the operator's own, its layout unknown to us: refused.
_NAT64_PREFIXES = ipaddress.ip_network("64:ff9b::/32")
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
# IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291), also :: and ::1.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class MediaError(ValueError):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 form leads to, or None when it embeds none."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _NAT64_PREFIXES:
        return [ipaddress.IPv4Address(0)]  # a local-use NAT64 prefix: never public
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the Teredo server, and the client behind its NAT
    return None


def allowed(address: str) -> bool:
    """Whether a fetch may connect to this address (from getaddrinfo, maybe with a zone).

    An IPv6 form that carries an IPv4 address is refused when that address is not public.
    The IPv4-mapped and NAT64 forms are that IPv4 address, reached another way (an
    IPv6-only host with DNS64 sees every IPv4-only server as 64:ff9b::a.b.c.d), so it
    decides alone; the others (6to4, Teredo, IPv4-compatible) must pass as IPv6 too.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    written_as_ipv4 = isinstance(ip, ipaddress.IPv4Address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded is not None and not all(_public(inner) for inner in embedded):
            return False
        if embedded is not None and (ip.ipv4_mapped is not None or ip in _NAT64_WELL_KNOWN):
            ip = embedded[0]
    if _public(ip):
        return True
    # Tests serve from 127.0.0.1 itself; no other spelling of it.
    return bool(
        current_app.config.get("TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK")
        and written_as_ipv4
        and ip == ipaddress.IPv4Address("127.0.0.1")
    )


def _address(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise MediaError(_l("Không tải được ảnh từ media_url: không tìm thấy máy chủ.")) from None
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(allowed(a) for a in addresses):
        raise MediaError(_l("media_url phải trỏ tới một máy chủ công khai."))
    return addresses[0]


def _left(deadline: float) -> float:
    """Seconds left before the deadline; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("media_url deadline passed")
    return left


class _DeadlineSocket:
    """A connected (maybe TLS) socket whose every wait is cut to what is left of the deadline.

    A socket timeout alone bounds each receive, not their sum: a byte every second would
    keep a 5-second timeout happy forever.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        # As socket.socket does: the connection may close while its response is still
        # being read; the socket really closes when both are done.
        self._io_refs = 0
        self._closed = False

    def _arm(self) -> None:
        self._sock.settimeout(_left(self._deadline))

    def recv_into(self, buffer, nbytes: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes) if nbytes else self._sock.recv_into(buffer)

    def recv(self, size: int) -> bytes:
        self._arm()
        return self._sock.recv(size)

    def sendall(self, data) -> None:
        self._arm()  # sendall's timeout bounds the whole call
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", buffering: int = -1, **_options) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError("read-only")
        size = buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE
        self._io_refs += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"), size)  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, deadline: float) -> None:
        super().__init__(host, port)
        self._address = address
        self._deadline = deadline

    def _connect_raw(self) -> socket.socket:
        raw = socket.create_connection((self._address, self.port), _left(self._deadline))
        raw.settimeout(_left(self._deadline))
        return raw

    def connect(self) -> None:
        self.sock = _DeadlineSocket(self._connect_raw(), self._deadline)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = http.client.HTTPS_PORT

    def __init__(self, host: str, address: str, port: int, deadline: float) -> None:
        super().__init__(host, address, port, deadline)
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        # The handshake is one call, bounded as a whole by the socket's timeout.
        tls = self._context.wrap_socket(self._connect_raw(), server_hostname=self.host)
        self.sock = _DeadlineSocket(tls, self._deadline)


def fetch_media(url: str) -> bytes:
    """The bytes at `url`, within the limits above; MediaError says what went wrong."""
    config = current_app.config
    timeout = float(config["TIPLINE_OPEN311_MEDIA_TIMEOUT"])
    if timeout <= 0:
        raise MediaError(_l("Hệ thống không tải ảnh qua media_url: hãy gửi ảnh kèm (media)."))
    deadline = time.monotonic() + timeout
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise MediaError(_l("media_url không hợp lệ.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise MediaError(_l("media_url không hợp lệ."))
    address = _address(parts.hostname, port)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(parts.hostname, address, port, deadline)
    limit = config["TIPLINE_MAX_PHOTO_BYTES"]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    response = None
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
            chunk = response.read(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise MediaError(_l("Ảnh ở media_url quá lớn."))
        return b"".join(chunks)
    except TimeoutError:
        raise MediaError(_l("Tải ảnh từ media_url quá lâu.")) from None
    except (OSError, http.client.HTTPException):
        raise MediaError(_l("Không tải được ảnh từ media_url.")) from None
    finally:
        if response is not None:
            response.close()
        connection.close()
