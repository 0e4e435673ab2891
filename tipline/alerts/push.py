"""Web Push subscriptions: a staff member's devices and a resident's opt-in for one tip.

A browser's `PushSubscription.toJSON()` (an endpoint at its push service and two keys)
is checked here, then stored sealed (tipline/core/sealed.py): the row holds the sealed
JSON and a keyed hash of the endpoint to find it again, never the endpoint in the clear.

- Staff: a service worker of its own under /staff/ (`/staff/push-sw.js`); `POST /staff/push`
  adds the device (CSRF token in X-CSRFToken), `DELETE /staff/push` removes it; several
  devices per person, listed on the alert settings page (templates/alerts/_push_devices.html).
- Residents: `POST /tra-cuu/push` within the tipster's session (or with the receipt's two
  codes, checked by the follow-up guard), one tip per subscription: each tip gets a service
  worker registration of its own under /tra-cuu/push/<scope>/, so two tips from one phone
  have two unrelated push addresses. Removed when the resident turns it off, when the tip's
  reply window ends (TIPLINE_TIPSTER_REPLY_DAYS after closing), by the retention purge, and
  when the push service answers 404/410.

Endpoints are accepted only at the origins of TIPLINE_PUSH_SERVICE_HOSTS (see
`allowed_origins`). The VAPID key pair (RFC 8292) is TIPLINE_VAPID_PRIVATE_KEY, or in
development a key generated once into instance/vapid_private_key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    request,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from py_vapid import Vapid02
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import TEST, Alert, DeliveryError
from tipline.core import sealed
from tipline.core.assets import serve_static
from tipline.core.db import Base
from tipline.core.errors import TiplineError
from tipline.core.http import no_store, safe_path
from tipline.core.i18n import site_root
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import csrf, db, limiter
from tipline.public.guard import receipt_lookup
from tipline.public.tipster_session import SessionEnded, session_tip
from tipline.tips import retention, workflow
from tipline.tips.models import OPEN_STATUSES, Tip

MAX_ENDPOINT = 2048
MAX_STAFF_DEVICES = 10
MAX_TIP_SUBSCRIPTIONS = 3
HASH_PURPOSE = "push-endpoint"
SCOPE_PURPOSE = "push-scope"
SCOPE_LENGTH = 32


class PushSubscription(Base):
    """One browser's push address, for a staff account or for one tip (never both)."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NULL AND tip_id IS NOT NULL) OR (user_id IS NOT NULL AND tip_id IS NULL)",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: _token(12))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    tip_id: Mapped[int | None] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), index=True
    )
    # lookup_hash of the endpoint: finds the row (DELETE, a second subscribe) without it.
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # seal(JSON of endpoint and keys): a database dump alone shows no push address.
    sealed: Mapped[str] = mapped_column(Text)
    # To the minute, as every time a resident's action causes (issue 5).
    created_at: Mapped[datetime] = mapped_column(default=lambda: to_minute(utcnow()))


def _token(size: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(size)).decode().rstrip("=")


# --- what a browser sends --------------------------------------------------------------


class BadSubscription(TiplineError):
    """The subscription JSON cannot be used: the message says why, in words."""

    status_code = 400


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str
    auth: str

    def info(self) -> dict:
        """The form pywebpush takes (the browser's toJSON() without expirationTime)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


MALFORMED = _l(
    "Trình duyệt gửi lên thông tin đăng ký nhận thông báo không hợp lệ. "
    "Hãy tải lại trang rồi bật lại thông báo."
)


def parse_subscription(data: object) -> Subscription:
    """A browser's PushSubscription.toJSON(), checked; raises BadSubscription."""
    if isinstance(data, dict) and isinstance(data.get("subscription"), dict):
        data = data["subscription"]
    if not isinstance(data, dict):
        raise BadSubscription(MALFORMED)
    endpoint, keys = data.get("endpoint"), data.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        raise BadSubscription(MALFORMED)
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise BadSubscription(MALFORMED)
    check_endpoint(endpoint)
    try:
        point, secret = _b64url(p256dh), _b64url(auth)
        # A key that is not a point of P-256 would fail every send: refuse it now.
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (binascii.Error, ValueError):
        raise BadSubscription(MALFORMED) from None
    if len(point) != 65 or len(secret) != 16:
        raise BadSubscription(MALFORMED)
    return Subscription(endpoint, p256dh, auth)


# --- which push services ---------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case; for a wildcard entry, the parent domain
    port: int
    wildcard: bool = False

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if (scheme, port) != (self.scheme, self.port):
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def parse_origins(text: str) -> list[Origin]:
    """TIPLINE_PUSH_SERVICE_HOSTS: comma-separated origins, scheme://host[:port]."""
    origins = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"TIPLINE_PUSH_SERVICE_HOSTS: {item!r} is not scheme://host[:port]")
        if parts.path not in {"", "/"} or parts.query or parts.username:
            raise ValueError(f"TIPLINE_PUSH_SERVICE_HOSTS: {item!r} must be an origin only")
        host = parts.hostname.lower()
        wildcard = host.startswith("*.")
        origins.append(
            Origin(
                parts.scheme,
                host[2:] if wildcard else host,
                parts.port or _default_port(parts.scheme),
                wildcard,
            )
        )
    return origins


def allowed_origins() -> list[Origin]:
    return parse_origins(current_app.config["TIPLINE_PUSH_SERVICE_HOSTS"])


def endpoint_origin(endpoint: str) -> Origin | None:
    """The allow-list entry the endpoint falls under, or None."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port or _default_port(parts.scheme)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or parts.fragment or not host:
        return None
    for origin in allowed_origins():
        if origin.matches(parts.scheme, host, port):
            return origin
    return None


FOREIGN_SERVICE = _l(
    "Dịch vụ thông báo của trình duyệt này không nằm trong danh sách được phép. "
    "Hãy dùng Chrome, Firefox, Safari hoặc Edge bản mới."
)


def _printable_ascii(text: str) -> bool:
    """Push services issue URLs of printable ASCII only (no space, no control character)."""
    return text.isascii() and all(33 <= ord(c) < 127 for c in text)


def check_endpoint(endpoint: str) -> Origin:
    if len(endpoint) > MAX_ENDPOINT or not _printable_ascii(endpoint):
        raise BadSubscription(MALFORMED)
    origin = endpoint_origin(endpoint)
    if origin is None:
        raise BadSubscription(FOREIGN_SERVICE)
    return origin


def public_host(host: str, port: int) -> bool:
    """Whether every address the host resolves to is a public one (wildcard entries)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return False
    return bool(infos)


# --- the VAPID key pair ----------------------------------------------------------------


def _instance_vapid_key(instance: Path) -> str:
    """A development key generated once into instance/ (never committed), like secret_key."""
    path = instance / "vapid_private_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    with os.fdopen(fd, "w") as key_file:
        key_file.write(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    return path.read_text().strip()


def vapid() -> Vapid02 | None:
    """The deployment's VAPID key, or None when Web Push is off (production without one)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configured = app.config.get("TIPLINE_VAPID_PRIVATE_KEY")
    if not configured and app.config.get("TIPLINE_PRODUCTION"):
        return None
    source = configured or f"instance:{app.instance_path}"
    cached = app.extensions.get("tipline.vapid")
    if cached is not None and cached[0] == source:
        return cached[1]
    text = (configured or _instance_vapid_key(Path(app.instance_path))).strip()
    try:
        key = (
            Vapid02.from_pem(text.encode())
            if text.startswith("-----")
            else Vapid02.from_string(text)
        )
    except (ValueError, TypeError):
        # A resident's page must not fail for it: Web Push is off, and the log says why.
        app.logger.error("TIPLINE_VAPID_PRIVATE_KEY cannot be read: Web Push is off")
        key = None
    app.extensions["tipline.vapid"] = (source, key)
    return key


def vapid_public_key() -> str | None:
    """The applicationServerKey pages subscribe with (base64url, uncompressed point); made
    once per key and process (every receipt and status page shows it)."""
    key = vapid()
    if key is None:
        return None
    made = current_app.extensions.get("tipline.vapid_public")
    if made is not None and made[0] is key:  # the same key object: vapid() keeps it
        return made[1]
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    public = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    current_app.extensions["tipline.vapid_public"] = (key, public)
    return public


def vapid_subject() -> str:
    subject = current_app.config.get("TIPLINE_VAPID_SUBJECT")
    return subject or f"mailto:{current_app.config['TIPLINE_MAIL_FROM']}"


# --- storage ---------------------------------------------------------------------------


class TooManyDevices(TiplineError):
    status_code = 409


def _find(endpoint: str) -> PushSubscription | None:
    digest = sealed.lookup_hash(endpoint, HASH_PURPOSE)
    return db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint_hash == digest)
    )


def _store(sub: Subscription, *, user_id: int | None, tip_id: int | None) -> PushSubscription:
    """Add the subscription for its owner (flushed, not committed).

    One browser registration has one endpoint: sent again, the row is updated and given to
    the new owner (a shared phone signed in by someone else), never duplicated.
    """
    row = _find(sub.endpoint)
    if row is None:
        owner = (
            PushSubscription.user_id == user_id
            if user_id is not None
            else PushSubscription.tip_id == tip_id
        )
        count = db.session.scalar(select(func.count(PushSubscription.id)).where(owner))
        limit = MAX_STAFF_DEVICES if user_id is not None else MAX_TIP_SUBSCRIPTIONS
        if count >= limit:
            raise TooManyDevices(
                _l(
                    "Đã có %(n)d thiết bị nhận thông báo. Hãy gỡ bớt một thiết bị rồi thử lại.",
                    n=limit,
                )
            )
        row = PushSubscription(endpoint_hash=sealed.lookup_hash(sub.endpoint, HASH_PURPOSE))
        db.session.add(row)
    row.user_id, row.tip_id = user_id, tip_id
    row.sealed = sealed.seal(json.dumps(sub.info(), separators=(",", ":")))
    db.session.flush()
    return row


def subscribe_staff(user_id: int, sub: Subscription) -> PushSubscription:
    return _store(sub, user_id=user_id, tip_id=None)


def subscribe_tip(tip: Tip, sub: Subscription) -> PushSubscription:
    if not workflow.accepts_messages(tip):
        raise TiplineError(
            _l("Tin báo này đã đóng quá thời hạn trao đổi nên không nhận thông báo nữa.")
        )
    return _store(sub, user_id=None, tip_id=tip.id)


def unsubscribe(endpoint: str, *, user_id: int | None = None, tip_id: int | None = None) -> bool:
    """Remove the owner's subscription with this endpoint; whether there was one."""
    row = _find(endpoint)
    if row is None or (row.user_id, row.tip_id) != (user_id, tip_id):
        return False
    db.session.delete(row)
    db.session.flush()
    return True


def subscription_of(row: PushSubscription) -> Subscription:
    """The stored subscription in the clear (raises sealed.SealError if it cannot be opened)."""
    data = json.loads(sealed.unseal(row.sealed))
    return Subscription(data["endpoint"], data["keys"]["p256dh"], data["keys"]["auth"])


def expired_tips(now: datetime, cutoff: datetime | None = None):
    """Tips whose reply window (or, if sooner, retention limit) is over, as a subquery."""
    days = current_app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    limit = now - timedelta(days=days)
    if cutoff is not None:
        limit = max(limit, cutoff)
    return select(Tip.id).where(
        Tip.status.not_in(OPEN_STATUSES), Tip.closed_at.is_not(None), Tip.closed_at <= limit
    )


def expire_subscriptions(now: datetime | None = None, cutoff: datetime | None = None) -> int:
    """Delete the subscriptions of tips past their reply window (flushed); how many."""
    result = db.session.execute(
        delete(PushSubscription)
        .where(PushSubscription.tip_id.in_(expired_tips(now or utcnow(), cutoff)))
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return result.rowcount or 0


# The retention purge (and the worker's periodic run of it) also ends resident push
# subscriptions: tips may not import alerts, so alerts registers itself there.
retention.also_sweep("push_subscriptions", expire_subscriptions)


@dataclass(frozen=True)
class Device:
    public_id: str
    service: str
    created_at: datetime


SERVICE_NAMES = {
    "fcm.googleapis.com": "Google (Chrome, Android)",
    "updates.push.services.mozilla.com": "Mozilla (Firefox)",
    "web.push.apple.com": "Apple (Safari)",
    "notify.windows.com": "Microsoft (Edge)",
}


def _service_name(endpoint: str) -> str:
    host = (urlsplit(endpoint).hostname or "").lower()
    for known, name in SERVICE_NAMES.items():
        if host == known or host.endswith("." + known):
            return name
    return host or "?"


def staff_devices(user_id: int) -> list[Device]:
    rows = db.session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.created_at, PushSubscription.id)
    )
    devices = []
    for row in rows:
        try:
            service = _service_name(subscription_of(row).endpoint)
        except (sealed.SealError, ValueError, KeyError):
            service = "?"
        devices.append(Device(row.public_id, service, row.created_at))
    return devices


def scope_token(tip: Tip) -> str:
    """The tip's own service worker scope name: stable for the tip, unlinkable to it."""
    return sealed.lookup_hash(tip.public_id, SCOPE_PURPOSE)[:SCOPE_LENGTH]


# --- routes ----------------------------------------------------------------------------

bp = Blueprint("push", __name__)

UNAVAILABLE = _l("Máy chủ chưa bật thông báo đẩy (Web Push).")
NOT_JSON = _l("Yêu cầu phải là JSON (thông tin đăng ký nhận thông báo của trình duyệt).")


def _json_error(message, status: int):
    return no_store(make_response(jsonify(error=str(message), status=status), status))


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadSubscription(NOT_JSON)
    return data


def _endpoint_of(data: dict) -> str:
    endpoint = data.get("endpoint")
    if isinstance(data.get("subscription"), dict):
        endpoint = data["subscription"].get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
        raise BadSubscription(MALFORMED)
    if not _printable_ascii(endpoint):
        raise BadSubscription(MALFORMED)
    return endpoint


@bp.errorhandler(TiplineError)
def _refused(error: TiplineError):
    db.session.rollback()
    response = _json_error(error.message, error.status_code)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(int(retry_after))
    return response


@bp.errorhandler(IntegrityError)
def _raced(_error: IntegrityError):
    """The same browser sending its subscription twice at once: one row won."""
    db.session.rollback()
    return _json_error(_l("Dữ liệu vừa thay đổi. Hãy tải lại trang rồi thử lại."), 409)


def _worker_script() -> Response:
    response = serve_static("push-sw.js")
    # A service worker script is checked for updates on each registration: never stale.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/staff/push-sw.js")
def staff_worker():
    """The staff service worker, under /staff/ so that its scope is /staff/."""
    return _worker_script()


@bp.post("/staff/push")
@login_required
def staff_subscribe():
    if vapid() is None:
        return _json_error(UNAVAILABLE, 503)
    sub = parse_subscription(_body())
    row = subscribe_staff(current_user.id, sub)
    db.session.commit()
    return no_store(make_response(jsonify(device=row.public_id), 201))


@bp.delete("/staff/push")
@login_required
def staff_unsubscribe():
    data = _body()
    removed = unsubscribe(_endpoint_of(data), user_id=current_user.id)
    db.session.commit()
    return no_store(jsonify(removed=removed))


def _own_device(public_id: str | None) -> PushSubscription | None:
    if not public_id:
        return None
    return db.session.scalar(
        select(PushSubscription).where(
            PushSubscription.public_id == public_id, PushSubscription.user_id == current_user.id
        )
    )


def _back():
    return redirect(safe_path(request.form.get("next"), f"{request.script_root}/staff/"), 303)


@bp.post("/staff/push/go")
@login_required
def staff_remove_device():
    """Remove one of my devices from the list (a plain form: a lost phone, too)."""
    row = _own_device(request.form.get("device"))
    if row is None:
        flash(_l("Không tìm thấy thiết bị này. Có thể nó đã được gỡ."))
        return _back()
    db.session.delete(row)
    db.session.commit()
    flash(_l("Đã gỡ thiết bị. Thiết bị đó sẽ không nhận thông báo nữa."))
    return _back()


@bp.post("/staff/push/thu")
@login_required
@limiter.limit("10 per hour")
def staff_test_device():
    """Send a test push to one of my devices now, through the Web Push channel."""
    row = _own_device(request.form.get("device"))
    if row is None:
        flash(_l("Không tìm thấy thiết bị này. Có thể nó đã được gỡ."))
        return _back()
    flash(_send_test(row))
    db.session.commit()
    return _back()


TEST_TIMEOUT = 5.0


def _send_test(row: PushSubscription):
    """Send a test alert to one device through the channel; the words to flash."""
    channel = CHANNELS.get("webpush")
    if channel is None or not channel.available():
        return UNAVAILABLE
    base = current_app.config["TIPLINE_BASE_URL"].rstrip("/")
    alert = Alert(
        kind=TEST,
        title=str(_l("Thông báo thử")),
        body=str(_l("Điện thoại này sẽ nhận thông báo tin báo.")),
        url=f"{base}/staff/",
        urgent=False,
        topic="test",
        key=_token(16),
    )
    try:
        channel.send(str(row.id), alert, timeout=TEST_TIMEOUT)
    except DeliveryError as failed:
        if failed.gone:
            channel.forget(str(row.id))
            return _l("Dịch vụ thông báo cho biết thiết bị này không còn đăng ký nên đã gỡ nó.")
        return _l("Chưa gửi được thông báo thử. Hãy thử lại sau ít phút.")
    return _l("Đã gửi thông báo thử. Điện thoại sẽ hiện nó trong giây lát.")


@bp.get("/tra-cuu/push/<scope>/sw.js")
def tip_worker(scope: str):
    """A tip's service worker: one scope per tip (/tra-cuu/push/<scope>/)."""
    if len(scope) != SCOPE_LENGTH or not all(c in "0123456789abcdef" for c in scope):
        abort(404)
    return _worker_script()


def _tip_of_request(data: dict) -> Tip:
    """The tip of the tipster's session, or of the receipt's two codes (the guard counts)."""
    reference, code = data.get("reference"), data.get("code")
    if isinstance(reference, str) and isinstance(code, str) and reference and code:
        tip = receipt_lookup(reference[:64], code[:64])
        if tip is None:
            raise _NoTip(_l("Mã số tin báo hoặc mã tra cứu không đúng."), 422)
        return tip
    try:
        return session_tip()
    except SessionEnded:
        raise _NoTip(
            _l("Phiên tra cứu đã kết thúc. Hãy nhập lại hai mã rồi bật thông báo."), 401
        ) from None


class _NoTip(TiplineError):
    def __init__(self, message, status: int) -> None:
        super().__init__(message)
        self.status_code = status


def _message_limit():
    return current_app.config["TIPLINE_MESSAGE_LIMIT"]


@bp.post("/tra-cuu/push")
@csrf.exempt
@limiter.limit(_message_limit)
def tip_subscribe():
    """A resident asks to be told when the tip has news (its own push address)."""
    if vapid() is None:
        return _json_error(UNAVAILABLE, 503)
    data = _body()
    sub = parse_subscription(data)
    tip = _tip_of_request(data)
    subscribe_tip(tip, sub)
    db.session.commit()
    return no_store(make_response(jsonify(on=True), 201))


@bp.delete("/tra-cuu/push")
@csrf.exempt
@limiter.limit(_message_limit)
def tip_unsubscribe():
    data = _body()
    endpoint = _endpoint_of(data)
    tip = _tip_of_request(data)
    removed = unsubscribe(endpoint, tip_id=tip.id)
    db.session.commit()
    return no_store(jsonify(removed=removed))


# --- what the templates need -----------------------------------------------------------


@bp.app_template_global()
def push_optin(tip: Tip) -> dict | None:
    """What a resident page needs to offer "Báo cho tôi khi có trả lời", or None."""
    key = vapid_public_key()
    if key is None or not workflow.accepts_messages(tip):
        return None
    scope = f"{site_root()}/tra-cuu/push/{scope_token(tip)}/"
    return {"key": key, "scope": scope, "worker": scope + "sw.js"}


@bp.app_template_global()
def push_staff_devices() -> dict | None:
    """What the settings page's device list needs (signed-in staff), or None."""
    if not current_user.is_authenticated:
        return None
    return {
        "key": vapid_public_key(),
        "scope": f"{site_root()}/staff/",
        "worker": f"{site_root()}/staff/push-sw.js",
        "devices": staff_devices(current_user.id),
    }
