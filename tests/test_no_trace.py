"""No trace of a resident: a unique address and user agent go through every resident step,
then the database, Redis, every log, the files and the cookies are searched for them.

The steps are a list (STEPS): each is a function of the `Visit`, skipped when its endpoint
does not exist in this version of the app, so that adding a resident action is one function
and one line. The app reads X-Forwarded-For (TIPLINE_PROXY_HOPS=1), keeps its limiter in
Redis when TIPLINE_TEST_REDIS_URL is set (in memory otherwise), and stores photos in a
folder of its own.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import ipaddress
import logging
import os
import random
import re
import runpy
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit

import pytest
from PIL import ExifTags, Image
from sqlalchemy import MetaData, select

from tipline.core.privacy import DropClientAddress
from tipline.extensions import db
from tipline.tips.services import new_submission_key

from .conftest import PASSWORD, ROOT, SHARED_PHOTOS, settings_like

# --- the probe ------------------------------------------------------------------------------

_rng = random.SystemRandom()
# 198.18.0.0/15 is for benchmarks: never a real client. Octets from 11 to 250, so that
# the address never appears inside another number by accident.
ADDRESS = f"198.{_rng.randint(18, 19)}.{_rng.randint(11, 250)}.{_rng.randint(11, 250)}"
USER_AGENT = f"NoTraceProbe/{uuid.uuid4().hex} (Linux; Android 14)"


def derived_traces(address: str, user_agent: str) -> dict[str, bytes]:
    """The address and the user agent, and what a careless program might keep of them."""
    packed = ipaddress.ip_address(address).packed
    traces = {
        "address": address,
        "address reversed": ".".join(reversed(address.split("."))),
        "address as a number": str(int(ipaddress.ip_address(address))),
        "address packed, hex": packed.hex(),
        "address in-addr.arpa": ipaddress.ip_address(address).reverse_pointer,
        "user agent": user_agent,
        "user agent token": user_agent.split()[0],
    }
    for value, name in ((address, "address"), (user_agent, "user agent")):
        for algorithm in ("sha256", "md5", "sha1", "sha512"):
            traces[f"{algorithm} of the {name}"] = hashlib.new(
                algorithm, value.encode()
            ).hexdigest()
    for algorithm in ("sha256", "sha512"):
        both = f"{address}|{user_agent}".encode()
        traces[f"{algorithm} of address|user agent"] = hashlib.new(algorithm, both).hexdigest()
    found = {name: value.encode() for name, value in traces.items()}
    found["address packed"] = packed
    return found


TRACES = derived_traces(ADDRESS, USER_AGENT)
# Raw 4-byte forms are not looked for inside images: compressed pixels hold any 4 bytes
# now and then (about one photo in 5,000), and the photo test proves the files are clean.
TEXT_ONLY = {"address packed"}


def find_traces(data: bytes | str, where: str, *, binary: bool = False) -> list[str]:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    lowered = data.lower()
    hits = []
    for name, trace in TRACES.items():
        if binary and name in TEXT_ONLY:
            continue
        if trace in data or (name not in TEXT_ONLY and trace.lower() in lowered):
            hits.append(f"{name} in {where}")
    return hits


# --- photos ---------------------------------------------------------------------------------


def gps_photo(name: str) -> bytes:
    """A real phone photo with GPS (../shared/testdata/photos), or one made here."""
    path = SHARED_PHOTOS / name
    if path.exists():
        return path.read_bytes()
    img = Image.new("RGB", (320, 240), "teal")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "NoTraceCamera"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (19.0, 48.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (105.0, 46.0, 12.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


PHOTOS = ("gps-DSCN0010.jpg", "gps-DSCN0021.jpg", "Canon_40D.jpg")


def assert_photo_clean(path: Path) -> None:
    data = path.read_bytes()
    for marker in (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"GPS"):
        assert marker not in data, (path.name, marker)
    with Image.open(path) as img:
        assert not img.getexif(), path.name
        assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo), path.name
        for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"):
            assert key not in img.info, (path.name, key)


# --- the resident's visit -------------------------------------------------------------------


@dataclass
class Visit:
    app: object
    client: object
    world: object
    responses: list = field(default_factory=list)  # (label, response)
    reference: str = ""
    code: str = ""
    steps: list[str] = field(default_factory=list)

    HEADERS = {
        "User-Agent": USER_AGENT,
        "X-Forwarded-For": ADDRESS,
        "X-Real-IP": ADDRESS,
        "Forwarded": f"for={ADDRESS}",
    }

    def open(self, label: str, method: str, url: str, **kwargs):
        headers = {**self.HEADERS, **kwargs.pop("headers", {})}
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code < 500, (label, response.status_code)
        self.responses.append((label, response))
        return response

    def get(self, url: str, label: str | None = None):
        return self.open(label or f"GET {url}", "GET", url)

    def post(self, url: str, data: dict, label: str | None = None, **kwargs):
        return self.open(label or f"POST {url}", "POST", url, data=data, **kwargs)

    def has(self, endpoint: str) -> bool:
        return endpoint in self.app.view_functions

    def has_path(self, path: str) -> bool:
        try:
            self.app.url_map.bind("localhost").match(path, method="GET")
        except Exception:
            return False
        return True

    @property
    def tip_id(self) -> int:
        from tipline.tips.models import Tip

        return db.session.scalar(select(Tip.id).where(Tip.reference == self.reference))


def _photo_upload(name: str) -> tuple[io.BytesIO, str, str]:
    return (io.BytesIO(gps_photo(name)), name, "image/jpeg")


def step_pages(visit: Visit) -> None:
    for prefix in ("", "/en"):
        for path in ("/", "/gui-tin", "/gui-tin?xa=A", "/tra-cuu"):
            visit.get(prefix + path)
        for path in ("/rieng-tu", "/so-lieu"):  # the privacy page, the public figures
            if visit.has_path(path):
                visit.get(prefix + path)
    visit.get("/khong-co-trang-nay")


def step_submit_with_photo(visit: Visit) -> None:
    data = {
        "submission_key": new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": "Có người lạ đứng canh ở ngõ 5 nhiều đêm liền.",
        "identity_tier": "anonymous",
        "photo": _photo_upload(PHOTOS[0]),
    }
    receipt = visit.post("/gui-tin?xa=A", data, "submit", content_type="multipart/form-data")
    assert receipt.status_code == 200, receipt.get_data(as_text=True)[:2000]
    html = receipt.get_data(as_text=True)
    visit.reference = re.search(r'id="reference">([^<]+)<', html).group(1)
    visit.code = re.search(r'id="follow-up-code">([^<]+)<', html).group(1)


def step_follow_up(visit: Visit) -> None:
    wrong = "2222-3333-4444-5555"
    assert visit.post("/tra-cuu", {"reference": visit.reference, "code": wrong}).status_code == 422
    unknown = {"reference": "TL-ZZZZ-ZZZZ", "code": wrong}
    assert visit.post("/tra-cuu", unknown, "follow-up unknown").status_code == 422
    right = {"reference": visit.reference, "code": visit.code}
    assert visit.post("/tra-cuu", right, "follow-up right").status_code == 200


def step_status_page(visit: Visit) -> None:
    if visit.has("public.status"):
        assert visit.get("/tra-cuu/tin").status_code == 200
        assert visit.get("/en/tra-cuu/tin").status_code == 200


def step_add_information(visit: Visit) -> None:
    if visit.has("public.send_message"):
        data = {"kind": "information", "body": "Tối nay họ lại đến, đi xe máy màu đỏ."}
        assert visit.post("/tra-cuu/tin-nhan", data, "add information").status_code == 303


def step_reply_to_a_question(visit: Visit) -> None:
    if not visit.has("public.send_message"):
        return
    from tipline.tips import workflow
    from tipline.tips.models import MessageKind, Tip

    tip = db.session.get(Tip, visit.tip_id)
    workflow.send_message(
        tip, visit.world.user("police_a"), "Họ đến lúc mấy giờ?", MessageKind.QUESTION
    )
    db.session.commit()
    data = {"kind": "reply", "body": "Khoảng 11 giờ đêm."}
    assert visit.post("/tra-cuu/tin-nhan", data, "reply").status_code == 303


def step_reveal_identity(visit: Visit) -> None:
    if visit.has("public.reveal"):
        data = {"name": "Phạm Văn Dò", "phone": "0912345678"}
        assert visit.post("/tra-cuu/danh-tinh", data, "reveal identity").status_code == 303


def step_add_photo_in_session(visit: Visit) -> None:
    if visit.has("public.status_photo"):
        data = {"photo": _photo_upload(PHOTOS[1])}
        response = visit.post(
            "/tra-cuu/tin/anh", data, "photo in session", content_type="multipart/form-data"
        )
        assert response.status_code == 303


def step_add_photo_with_codes(visit: Visit) -> None:
    data = {"reference": visit.reference, "code": visit.code, "photo": _photo_upload(PHOTOS[2])}
    response = visit.post(
        "/tra-cuu/anh", data, "photo with codes", content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]


def step_sign_out(visit: Visit) -> None:
    if visit.has("public.sign_out"):
        assert visit.post("/tra-cuu/thoat", {}, "sign out").status_code == 200


STEPS: list[Callable[[Visit], None]] = [
    step_pages,
    step_submit_with_photo,
    step_follow_up,
    step_status_page,
    step_add_information,
    step_reply_to_a_question,
    step_reveal_identity,
    step_add_photo_in_session,
    step_add_photo_with_codes,
    step_sign_out,
]


# --- where traces could hide ----------------------------------------------------------------


def database_hits() -> tuple[list[str], int]:
    """Every value of every column of every table (text, blobs and the rest as text)."""
    meta = MetaData()
    meta.reflect(bind=db.engine)
    hits, values = [], 0
    for table in meta.sorted_tables:
        for row in db.session.execute(select(table)):
            for column, value in zip(table.columns, row, strict=True):
                if value is None:
                    continue
                values += 1
                data = bytes(value) if isinstance(value, bytes | memoryview) else str(value)
                hits += find_traces(data, f"{table.name}.{column.name}")
    return hits, values


def redis_hits(url: str) -> tuple[list[str], int]:
    """Every key and value of every type in the test's Redis database."""
    import redis

    server = redis.Redis.from_url(url)
    hits, keys = [], 0
    try:
        for key in server.scan_iter(count=1000):
            keys += 1
            kind = server.type(key).decode()
            if kind == "string":
                value = [server.get(key)]
            elif kind == "list":
                value = server.lrange(key, 0, -1)
            elif kind == "set":
                value = list(server.smembers(key))
            elif kind == "zset":
                value = [m for pair in server.zrange(key, 0, -1, withscores=True) for m in pair]
            elif kind == "hash":
                value = [p for pair in server.hgetall(key).items() for p in pair]
            elif kind == "stream":
                value = [repr(server.xrange(key))]
            else:  # gone meanwhile
                continue
            parts = [key] + [v if isinstance(v, bytes) else str(v).encode() for v in value if v]
            hits += find_traces(b"\n".join(parts), f"redis {key!r}")
    finally:
        server.close()
    return hits, keys


def assert_limiter_keys_expire_within_the_hour(prefix: str) -> None:
    import redis

    server = redis.Redis.from_url(redis_url())
    try:
        keys = list(server.scan_iter(match=f"*{prefix}*"))
        assert len(keys) >= 3  # the submission, the follow-ups, the wrong codes
        for key in keys:
            assert 0 < server.ttl(key) <= 3600, key
    finally:
        server.close()


def file_hits(folder: Path, *, images: bool) -> tuple[list[str], int]:
    hits, count = [], 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            count += 1
            hits += find_traces(path.read_bytes(), str(path), binary=images)
    return hits, count


def _decoded(value: str) -> list[bytes]:
    """A signed cookie's payload as the server would read it (itsdangerous: base64, zlib)."""
    out = [value.encode()]
    for part in value.lstrip(".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        out.append(raw)
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(raw))
    return out


def cookie_hits(visit: Visit) -> tuple[list[str], int]:
    hits, count = [], 0
    for label, response in visit.responses:
        for header in response.headers.getlist("Set-Cookie"):
            count += 1
            name, _, rest = header.partition("=")
            value = rest.split(";")[0]
            for data in _decoded(value):
                hits += find_traces(data, f"cookie {name} set by {label}")
    return hits, count


class Capture(logging.Handler):
    """Keeps each record, and what each installed handler would write for it, at once
    (a formatter may read the request, which is gone by the time the test looks)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append((f"{record.name}:{record.levelname}", formatted(record)))


@pytest.fixture
def every_log(caplog):
    """Every record of every logger at DEBUG, also those that do not propagate to the root."""
    capture = Capture()
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    caplog.set_level(logging.DEBUG)
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name)
    attached = [logging.root] + [lg for lg in loggers if not lg.propagate]
    for logger in attached:
        logger.addHandler(capture)
    yield capture
    for logger in attached:
        logger.removeHandler(capture)


def installed_handlers() -> list[logging.Handler]:
    """Handlers the app or its libraries put on any logger (not the test's own)."""
    from _pytest.logging import LogCaptureHandler

    handlers = []
    for logger in [logging.root] + [
        logging.getLogger(n) for n in list(logging.root.manager.loggerDict)
    ]:
        for handler in getattr(logger, "handlers", []):
            if not isinstance(handler, LogCaptureHandler | Capture):
                handlers.append(handler)
    return handlers


def formatted(record: logging.LogRecord) -> str:
    """The record as its message, its fields, and as each installed handler writes it."""
    text = [record.getMessage(), repr(vars(record))]
    for handler in installed_handlers():
        try:
            text.append(handler.format(record))
        except Exception:  # noqa: S112 (a formatter made for other records)
            continue
    return "\n".join(text)


def log_hits(capture: Capture) -> list[str]:
    hits = []
    for where, text in capture.texts:
        hits += find_traces(text, f"log record {where}")
    return hits


def werkzeug_request_lines(visit: Visit) -> None:
    """What werkzeug's development server logs for each request, through its own code."""
    from werkzeug.serving import WSGIRequestHandler

    for _label, response in visit.responses:
        environ = response.request.environ
        assert environ["REMOTE_ADDR"] == ADDRESS  # ProxyFix read X-Forwarded-For
        handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
        handler.environ = environ
        handler.client_address = (ADDRESS, 50000)
        handler.command = environ["REQUEST_METHOD"]
        handler.path = environ.get("RAW_URI") or environ["PATH_INFO"]
        handler.request_version = "HTTP/1.1"
        handler.requestline = f"{handler.command} {handler.path} HTTP/1.1"
        handler.log_request(response.status_code, len(response.get_data()))


def gunicorn_access_lines(visit: Visit) -> list[str]:
    """The access log lines gunicorn.conf.py's format gives for these requests."""
    from gunicorn.config import Config
    from gunicorn.glogging import SafeAtoms

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    logger = settings["logger_class"](config)  # the deployed logger, not gunicorn's own
    lines = []
    for _label, response in visit.responses:
        environ = dict(response.request.environ)
        environ.setdefault("RAW_URI", environ["PATH_INFO"])
        request = SimpleNamespace(headers=[(k.upper(), v) for k, v in Visit.HEADERS.items()])
        sent = SimpleNamespace(status=response.status, sent=len(response.get_data()), headers=[])
        atoms = logger.atoms(sent, request, environ, timedelta(milliseconds=12))
        lines.append(settings["access_log_format"] % SafeAtoms(atoms))
    return lines


# --- what the pages load --------------------------------------------------------------------


class Links(HTMLParser):
    ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "content"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name not in self.ATTRIBUTES or not value:
                continue
            if name == "content" and attributes.get("http-equiv", "").lower() != "refresh":
                continue
            if name == "srcset":
                self.urls += [part.split()[0] for part in value.split(",") if part.strip()]
            elif name == "content":
                self.urls.append(value.partition("url=")[2] or value)
            else:
                self.urls.append(value)


def foreign_urls(page_url: str, html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    foreign = []
    for url in parser.urls:
        absolute = urlsplit(urljoin(f"http://localhost{page_url}", url))
        web = absolute.scheme in {"http", "https"}
        if (web and absolute.hostname != "localhost") or (
            not web and absolute.scheme not in {"data", "mailto", "tel"}
        ):
            foreign.append(url)
    return foreign


def stylesheet_urls(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return [u for u in parser.urls if urlsplit(u).path.endswith(".css")]


# --- the test -------------------------------------------------------------------------------


def redis_url() -> str | None:
    return os.environ.get("TIPLINE_TEST_REDIS_URL")


@pytest.fixture
def probe_app(other_app, app, tmp_path):
    prefix = f"tipline-notrace-{uuid.uuid4().hex}"
    settings = settings_like(
        app,
        TIPLINE_PROXY_HOPS=1,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=redis_url() or "memory://",
        RATELIMIT_KEY_PREFIX=prefix,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield other_app(settings)
    url = redis_url()
    if url:
        import redis

        server = redis.Redis.from_url(url)
        try:
            keys = list(server.scan_iter(match=f"*{prefix}*"))
            if keys:
                server.delete(*keys)
        finally:
            server.close()


def resident(probe_app, world) -> Visit:
    client = probe_app.test_client()
    client.environ_base.update(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=USER_AGENT)
    return Visit(probe_app, client, world)


def test_a_resident_leaves_no_trace_anywhere(probe_app, world, every_log, capfd):
    visit = resident(probe_app, world)
    for step in STEPS:
        before = len(visit.responses)
        step(visit)
        if len(visit.responses) > before:
            visit.steps.append(step.__name__)
    werkzeug_request_lines(visit)
    assert any(r.name == "werkzeug" for r in every_log.records)
    assert any(isinstance(f, DropClientAddress) for f in logging.getLogger("werkzeug").filters)

    hits, values = database_hits()
    assert values > 50 and visit.reference  # the search really saw the tip
    if redis_url():
        redis_found, keys = redis_hits(redis_url())
        assert keys, "the limiter wrote nothing to Redis: this test would prove nothing"
        hits += redis_found
        assert_limiter_keys_expire_within_the_hour(probe_app.config["RATELIMIT_KEY_PREFIX"])
    uploads = Path(probe_app.config["UPLOAD_DIR"])
    found, files = file_hits(uploads, images=True)
    assert files >= 3
    hits += found
    hits += file_hits(Path(probe_app.instance_path), images=True)[0]
    cookies_found, _cookies = cookie_hits(visit)
    hits += cookies_found
    hits += log_hits(every_log)
    for line in gunicorn_access_lines(visit):
        hits += find_traces(line, "gunicorn access log")
    output = capfd.readouterr()
    hits += find_traces(output.out + output.err, "stdout/stderr")
    for label, response in visit.responses:
        hits += find_traces(response.get_data(), f"the page of {label}")
    assert hits == [], hits
    print("steps:", ", ".join(visit.steps))


# Times on the tip that staff actions set (the question asked in step_reply_to_a_question).
STAFF_TIMES = {"tips.first_response_at", "tips.verified_at", "tips.closed_at"}


def test_resident_times_are_kept_to_the_minute(probe_app, world):
    visit = resident(probe_app, world)
    for step in STEPS:
        step(visit)
    tip_id = visit.tip_id
    meta = MetaData()
    meta.reflect(bind=db.engine)
    checked = []
    for table in meta.sorted_tables:
        if table.name == "tips":
            rows = db.session.execute(select(table).where(table.c.id == tip_id))
        elif "tip_id" in table.c:
            query = select(table).where(table.c.tip_id == tip_id)
            for staff in ("actor_id", "author_id"):  # the staff member's own actions
                if staff in table.c:
                    query = query.where(table.c[staff].is_(None))
            rows = db.session.execute(query)
        elif table.name == "tipster_contacts":
            tips = meta.tables["tips"]
            contact = select(tips.c.contact_id).where(tips.c.id == tip_id).scalar_subquery()
            rows = db.session.execute(select(table).where(table.c.id == contact))
        else:
            continue
        for row in rows:
            for column, value in zip(table.columns, row, strict=True):
                if f"{table.name}.{column.name}" in STAFF_TIMES:
                    continue
                if isinstance(value, datetime):
                    checked.append(f"{table.name}.{column.name}")
                    assert (value.second, value.microsecond) == (0, 0), (
                        f"{table.name}.{column.name} = {value}"
                    )
    assert {"tips.submitted_at", "tip_photos.created_at", "tip_events.at"} <= set(checked)


SMS_RESIDENT_TABLES = (
    "sms_senders",
    "sms_tip_links",
    "sms_outgoing",
    "sms_webhook_events",
    "tip_sms_subscriptions",
)


def test_resident_times_by_sms_are_kept_to_the_minute(client, world, login, make_tip):
    """The SMS path: a tip, its receipt through the worker, a staff question, the answer, a
    "TC", a stop; then every time in the rows it wrote (and the tip-form SMS opt-in)."""
    from tipline.alerts import sms_numbers
    from tipline.alerts.models import Delivery, Notification
    from tipline.alerts.worker import run_pass
    from tipline.tips.models import IdentityTier, Tip

    from .sms_fakes import FakeAndroidGateway
    from .sms_intake_helpers import register, text

    fake = FakeAndroidGateway()
    try:
        line = register(world.commune_a, fake)
        phone = "+84987654321"
        assert text(client, line, phone, "Co nguoi la lay trom bo")["action"] == "tip"
        tip = db.session.scalars(select(Tip).order_by(Tip.id.desc())).first()
        login("police_a").post(
            f"/staff/tips/{tip.public_id}/message", data={"body": "Xe gi?", "kind": "question"}
        )
        text(client, line, phone, "Xe may do")
        text(client, line, phone, "TC")
        waiting_before_stop = text(client, line, phone, "DUNG")
        assert waiting_before_stop["action"] == "stop"
        named = make_tip(
            world.a1, identity_tier=IdentityTier.CONFIDENTIAL, name="Nguoi Bao", phone="0912345678"
        )
        assert sms_numbers.subscribe_tip(named, "0912 345 678") is not None
        db.session.flush()
        meta = MetaData()
        meta.reflect(bind=db.engine)
        checked = set()

        def minute_only(name, rows):
            for row in rows:
                for column, value in row._mapping.items():
                    if isinstance(value, datetime):
                        checked.add(f"{name}.{column}")
                        assert (value.second, value.microsecond) == (0, 0), (
                            f"{name}.{column} = {value}"
                        )

        for name in SMS_RESIDENT_TABLES:
            minute_only(name, db.session.execute(select(meta.tables[name])))
        texts = select(Notification.id).where(Notification.kind == "sms_text")
        minute_only(
            "notifications",
            db.session.execute(
                select(meta.tables["notifications"]).where(
                    meta.tables["notifications"].c.kind == "sms_text"
                )
            ),
        )
        deliveries = meta.tables["deliveries"]
        minute_only(
            "deliveries",
            db.session.execute(
                select(deliveries.c.created_at, deliveries.c.next_attempt_at).where(
                    deliveries.c.notification_id.in_(texts)
                )
            ),
        )
        run_pass(run_jobs=False)
        assert fake.received  # the worker ran on these rows
        assert db.session.scalar(select(Delivery.id).limit(1)) is not None
        assert {
            "sms_senders.updated_at",
            "sms_tip_links.created_at",
            "sms_outgoing.created_at",
            "sms_webhook_events.received_at",
            "tip_sms_subscriptions.created_at",
            "notifications.created_at",
            "deliveries.created_at",
        } <= checked
    finally:
        fake.close()


def test_alert_deliveries_of_a_residents_tip_are_kept_to_the_minute(probe_app, world):
    """The worker fans the resident's tip and reply out to staff, and the staff question
    to the resident, seconds after each: every time it stores on those rows (created, due,
    retried, sent) is to the minute, joined through notification_id."""
    from tipline.alerts import delivery
    from tipline.alerts.channels.base import DeliveryError
    from tipline.alerts.models import Delivery, Notification

    from .alerts_fake import FakeChannel, install, remove

    fake = install(FakeChannel())
    try:
        visit = resident(probe_app, world)
        for step in STEPS:
            step(visit)
        fake.resident[visit.tip_id] = ["resident-device"]
        settings = delivery.Settings(10, 60, 1.0, 3, 30, 600)
        fake.fail = DeliveryError("HTTP 500")  # a retry time is stored too
        assert delivery.deliver(settings).failed > 0
        db.session.execute(Delivery.__table__.update().values(next_attempt_at=datetime(2000, 1, 1)))
        db.session.commit()
        fake.fail = None
        assert delivery.deliver(settings).sent > 0
        rows = db.session.execute(
            select(Notification, Delivery)
            .join(Delivery, Delivery.notification_id == Notification.id)
            .where(Notification.tip_id == visit.tip_id)
        ).all()
    finally:
        remove(fake)
    kinds = {notification.kind for notification, _ in rows}
    assert {"new_tip", "tipster_reply"} <= kinds and any(n.user_id is None for n, _ in rows)
    checked = 0
    for notification, row in rows:
        for label, value in (
            ("notifications.created_at", notification.created_at),
            ("notifications.fanned_out_at", notification.fanned_out_at),
            ("deliveries.created_at", row.created_at),
            ("deliveries.next_attempt_at", row.next_attempt_at),
            ("deliveries.sent_at", row.sent_at),
        ):
            assert value is not None, label
            assert (value.second, value.microsecond) == (0, 0), f"{label} = {value}"
            checked += 1
        assert row.lease_until is None
    assert checked >= 15


def test_stored_photos_carry_no_metadata(probe_app, world):
    visit = resident(probe_app, world)
    for step in STEPS:
        step(visit)
    stored = [p for p in Path(probe_app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()]
    assert len(stored) >= 3
    for path in stored:
        assert_photo_clean(path)


def test_pages_that_show_a_tip_are_never_cached(probe_app, world):
    visit = resident(probe_app, world)
    for step in STEPS:
        step(visit)
    showing = [
        (label, r) for label, r in visit.responses if visit.reference.encode() in r.get_data()
    ]
    assert len(showing) >= 4
    for label, response in showing:
        assert "no-store" in response.headers.get("Cache-Control", ""), label


def test_resident_pages_load_nothing_from_another_site(probe_app, world):
    visit = resident(probe_app, world)
    for step in STEPS:
        step(visit)
    pages = [
        (label, r)
        for label, r in visit.responses
        if r.mimetype == "text/html" and r.status_code != 303
    ]
    assert any(label.startswith("GET /en/") for label, _ in pages)
    sheets = set()
    for label, response in pages:
        html = response.get_data(as_text=True)
        assert foreign_urls(response.request.path, html) == [], label
        sheets.update(stylesheet_urls(html))
    assert sheets
    for sheet in sheets:
        css = visit.client.get(sheet).get_data(as_text=True)
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) + re.findall(
            r"@import\s+['\"]([^'\"]+)", css
        ):
            assert not urlsplit(url).netloc, (sheet, url)


def test_the_staff_sign_in_needs_no_address(probe_app, world, every_log):
    """A staff member's session starts and works: the address plays no part in it."""
    visit = resident(probe_app, world)
    response = visit.post("/staff/login", {"username": "police_a", "password": PASSWORD})
    assert response.status_code == 302
    assert visit.get("/staff/").status_code == 200
    hits, _values = database_hits()
    assert hits == []
    assert log_hits(every_log) == []


def test_the_staff_session_cookie_holds_nothing_derived_from_address_or_user_agent(
    probe_app, world
):
    visit = resident(probe_app, world)
    response = visit.post("/staff/login", {"username": "police_a", "password": PASSWORD})
    assert response.status_code == 302
    with probe_app.test_request_context(
        "/staff/", environ_base={"REMOTE_ADDR": ADDRESS}, headers=Visit.HEADERS
    ):
        from flask_login.utils import _create_identifier

        identifier = _create_identifier()
    cookie = visit.client.get_cookie("session")
    assert cookie is not None
    serializer = probe_app.session_interface.get_signing_serializer(probe_app)
    stored = repr(serializer.loads(cookie.value))
    assert identifier not in stored
    assert find_traces(stored, "the staff session") == []
