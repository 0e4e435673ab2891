"""Open311 GeoReport v2: public-safe answers without a key, more within a key's scope."""

from __future__ import annotations

import io
import socket
import threading
import time
import xml.etree.ElementTree as ET  # noqa: S405  # nosec B405 - our own answers
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from sqlalchemy import inspect, select

from tipline.api.keys import create_partner_key, revoke_partner_key
from tipline.api.models import ApiUse
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import IdentityTier, Outcome, Tip
from tipline.tips.services import find_by_receipt

from .conftest import settings_like

BASE = "/open311/v2"


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def partner(world):
    """make(unit, **permissions) -> the key's secret (header value)."""

    def make(unit=None, **permissions):
        options = {"may_submit": True, "may_read": True, "may_name": False} | permissions
        _key, secret = create_partner_key(
            world.user("admin"), name="Hue-S", unit=unit or world.commune_a, **options
        )
        db.session.commit()
        return secret

    return make


def _post(client, secret, **fields):
    headers = {"X-Api-Key": secret}
    if "idempotency" in fields:
        headers["Idempotency-Key"] = fields.pop("idempotency")
    data = {"service_code": "theft", "description": "Có người lạ đột nhập kho lúa của thôn."}
    data["address_string"] = "Kho lúa đầu thôn"
    data.update(fields)
    return client.post(f"{BASE}/requests.json", data=data, headers=headers)


def test_services_are_the_active_categories_in_json_and_xml(client, world):
    listed = client.get(f"{BASE}/services.json").get_json()
    assert {s["service_code"] for s in listed} == {"theft", "disturbance"}
    assert listed[0]["service_name"] == "Trộm cắp tài sản"
    root = ET.fromstring(client.get(f"{BASE}/services.xml").data)  # noqa: S314  # nosec B314
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == ["theft", "disturbance"]


def test_service_definition_offers_the_communes(client, world):
    definition = client.get(f"{BASE}/services/theft.json").get_json()
    commune = definition["attributes"][0]
    assert commune["code"] == "commune" and commune["required"] is True
    assert {v["key"] for v in commune["values"]} == {"A", "B"}
    root = ET.fromstring(client.get(f"{BASE}/services/theft.xml").data)  # noqa: S314  # nosec B314
    assert root.find("attributes/attribute/values/value/key") is not None
    assert client.get(f"{BASE}/services/nope.json").status_code == 404


def test_without_a_key_only_public_safe_fields_answer(client, world, make_tip, partner):
    tip = make_tip(
        world.a1,
        identity_tier=IdentityTier.CONFIDENTIAL,
        name="Nguyễn Văn Bí Mật",
        phone="0912345678",
        latitude=19.8,
        longitude=105.7,
        place="Nhà văn hóa thôn Đông",
    )
    assert client.get(f"{BASE}/requests.json").status_code == 403  # tests/test_open311_privacy
    response = client.get(f"{BASE}/requests/{tip.reference}.json")
    (record,) = response.get_json()
    assert record["service_request_id"] == tip.reference and record["status"] == "open"
    assert record["requested_datetime"].endswith("T00:00:00+07:00")
    for hidden in ("description", "lat", "long", "address", "media_url", "agency_responsible"):
        assert hidden not in record
    # A reading key of another commune does not even list it.
    reader = {"X-Api-Key": partner(world.commune_b)}
    listed = client.get(f"{BASE}/requests.json", headers=reader)
    assert listed.status_code == 200 and listed.get_json() == []
    text = "".join(
        answer.get_data(as_text=True)
        for answer in (
            response,
            listed,
            client.get(f"{BASE}/requests.xml", headers=reader),
            client.get(f"{BASE}/requests/{tip.reference}.xml"),
        )
    )
    for secret in ("Bí Mật", "0912345678", "Mất trộm", "19.8", "Nhà văn hóa", tip.public_id):
        assert secret not in text


def test_a_key_reads_more_only_within_its_scope_and_permission(client, world, make_tip, partner):
    inside = make_tip(world.a1, latitude=19.8, longitude=105.7)
    outside = make_tip(world.b1)
    reader = partner(world.commune_a)
    records = {
        r["service_request_id"]: r
        for r in client.get(f"{BASE}/requests.json", headers={"X-Api-Key": reader}).get_json()
    }
    assert records[inside.reference]["description"].startswith("Mất trộm")
    assert records[inside.reference]["lat"] == 19.8
    assert outside.reference not in records  # the list is the key's own area
    blind = partner(world.commune_a, may_read=False)
    (record,) = client.get(
        f"{BASE}/requests/{inside.reference}.json", headers={"Authorization": f"Bearer {blind}"}
    ).get_json()
    assert "description" not in record


def test_a_village_key_reads_nothing_more_of_a_tip_hidden_from_the_village(
    client, world, make_tip, partner
):
    """A conflict of interest hides the tip from the village team, and from its keys."""
    tip = make_tip(world.a1, latitude=19.8, longitude=105.7)
    village, commune = partner(world.a1), partner(world.commune_a)
    url = f"{BASE}/requests/{tip.reference}.json"
    assert "description" in client.get(url, headers={"X-Api-Key": village}).get_json()[0]
    workflow.transition(
        tip, workflow.Action.ESCALATE, world.user("leader_a1"), conflict_of_interest=True
    )
    db.session.commit()
    (hidden,) = client.get(url, headers={"X-Api-Key": village}).get_json()
    assert "description" not in hidden and "lat" not in hidden
    assert hidden["service_request_id"] == tip.reference  # public-safe fields still answer
    assert "description" in client.get(url, headers={"X-Api-Key": commune}).get_json()[0]
    listed = client.get(f"{BASE}/requests.json", headers={"X-Api-Key": village}).get_json()
    assert [r for r in listed if "description" in r] == []


def test_closed_tips_say_so_with_the_detailed_state(client, world, make_tip, partner):
    tip = make_tip(world.a1)
    reader = {"X-Api-Key": partner(world.commune_a)}
    police = world.user("police_a")
    for action in (workflow.Action.TRIAGE, workflow.Action.START_VERIFICATION):
        workflow.transition(tip, action, police)
    workflow.transition(tip, workflow.Action.VERIFY, police)
    workflow.transition(
        tip,
        workflow.Action.RESOLVE,
        police,
        outcome=Outcome.MEDIATED,
        note="Đã hòa giải xong.",
        note_to_tipster=True,
    )
    db.session.commit()
    (record,) = client.get(f"{BASE}/requests/{tip.reference}.json", headers=reader).get_json()
    assert record["status"] == "closed" and record["status_notes"] == "Đã giải quyết"
    assert record["updated_datetime"] >= record["requested_datetime"]
    assert client.get(f"{BASE}/requests.json?status=open", headers=reader).get_json() == []
    closed = client.get(f"{BASE}/requests.json?status=closed", headers=reader).get_json()
    assert len(closed) == 1


def test_filters_are_validated_in_the_answer_format(client, world, partner):
    reader = {"X-Api-Key": partner(world.commune_a)}

    def get(path):
        return client.get(path, headers=reader)

    bad = get(f"{BASE}/requests.json?start_date=yesterday")
    assert bad.status_code == 400
    assert "start_date" in bad.get_json()[0]["description"]
    xml = get(f"{BASE}/requests.xml?end_date=31/12/2026")
    assert xml.status_code == 400 and xml.mimetype == "text/xml"
    root = ET.fromstring(xml.data)  # noqa: S314  # nosec B314
    assert root.tag == "errors" and root.findtext("error/code") == "400"
    order = get(
        f"{BASE}/requests.json?start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z"
    )
    assert order.status_code == 400
    assert get(f"{BASE}/requests.json?status=pending").status_code == 400
    assert get(f"{BASE}/requests.json?service_request_id=nope").status_code == 400


def test_default_window_is_ninety_days(client, world, make_tip, partner):
    reader = {"X-Api-Key": partner(world.commune_a)}
    old = make_tip(world.a1, now=utcnow() - timedelta(days=100))
    recent = make_tip(world.a1)
    listed = [
        r["service_request_id"]
        for r in client.get(f"{BASE}/requests.json", headers=reader).get_json()
    ]
    assert listed == [recent.reference]
    start = (utcnow() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    wider = client.get(
        f"{BASE}/requests.json", query_string={"start_date": start}, headers=reader
    ).get_json()
    assert {r["service_request_id"] for r in wider} == {old.reference, recent.reference}
    by_id = client.get(
        f"{BASE}/requests.json?service_request_id={old.reference}", headers=reader
    ).get_json()
    assert [r["service_request_id"] for r in by_id] == [old.reference]


def test_a_partner_tip_is_anonymous_and_gets_a_follow_up_code(client, world, partner):
    secret = partner(world.commune_a)
    response = _post(client, secret, lat="19.8", long="105.7", address_string="Kho lúa")
    assert response.status_code == 201
    (answer,) = response.get_json()
    tip = db.session.scalar(select(Tip).where(Tip.reference == answer["service_request_id"]))
    assert tip.identity_tier == IdentityTier.ANONYMOUS and tip.contact is None
    assert tip.unit_id == world.commune_a.id  # derived from the key's commune
    assert tip.latitude == 19.8 and tip.place == "Kho lúa"
    assert find_by_receipt(tip.reference, answer["follow_up_code"]).id == tip.id


def test_names_need_a_key_that_allows_them(client, world, partner):
    anonymous_only = partner(world.commune_a)
    refused = _post(client, anonymous_only, first_name="An", last_name="Lê", phone="0912345678")
    assert refused.status_code == 403
    assert db.session.scalar(select(Tip)) is None
    named = partner(world.commune_a, may_name=True)
    response = _post(client, named, first_name="An", last_name="Lê", phone="0912 345 678")
    assert response.status_code == 201
    tip = db.session.scalar(select(Tip))
    assert tip.identity_tier == IdentityTier.CONFIDENTIAL
    assert (tip.contact.name, tip.contact.phone) == ("An Lê", "0912345678")
    assert _post(client, named, first_name="An", phone="12").status_code == 400


def test_the_commune_must_be_given_and_in_scope(client, world, partner):
    province = partner(world.province)
    assert _post(client, province).status_code == 400
    ok = _post(client, province, **{"attribute[commune]": "B", "attribute[village]": "B1"})
    assert ok.status_code == 201
    commune_a = partner(world.commune_a)
    assert _post(client, commune_a, **{"attribute[commune]": "B"}).status_code == 403
    assert _post(client, commune_a, **{"attribute[village]": "B1"}).status_code == 400
    assert _post(client, commune_a, **{"attribute[commune]": "ZZ"}).status_code == 400
    village = partner(world.a2)
    response = _post(client, village)
    tip = db.session.scalar(
        select(Tip).where(Tip.reference == response.get_json()[0]["service_request_id"])
    )
    assert tip.unit_id == world.a2.id


@pytest.mark.parametrize(
    "fields",
    [
        {"description": "ngắn"},
        {"lat": "19.8"},
        {"lat": "nan", "long": "105"},
        {"lat": "91", "long": "105"},
        {"address_string": "x" * 301},
        {"idempotency": "short"},
    ],
)
def test_bad_requests_are_refused_with_a_message(client, world, partner, fields):
    response = _post(client, partner(world.commune_a), **fields)
    assert response.status_code == 400
    assert response.get_json()[0]["description"]
    assert db.session.scalar(select(Tip)) is None


def test_idempotency_key_records_one_tip_and_the_token_finds_it(client, world, partner):
    secret = partner(world.commune_a)
    first = _post(client, secret, idempotency="phone-outbox-0001")
    again = _post(client, secret, **{"attribute[idempotency_key]": "phone-outbox-0001"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert len(db.session.scalars(select(Tip)).all()) == 1
    found = client.get(f"{BASE}/tokens/phone-outbox-0001.json", headers={"X-Api-Key": secret})
    assert found.get_json()[0]["service_request_id"] == first.get_json()[0]["service_request_id"]
    # GeoReport v2: a token needs no key, and answers only the id it became.
    for headers in ({}, {"X-Api-Key": partner(world.commune_a)}):
        answer = client.get(f"{BASE}/tokens/phone-outbox-0001.json", headers=headers)
        assert answer.status_code == 200
        assert answer.get_json() == [
            {"token": "phone-outbox-0001", "service_request_id": tip_id(first)}
        ]
    assert client.get(f"{BASE}/tokens/phone-outbox-9999.json").status_code == 404


def tip_id(response) -> str:
    return response.get_json()[0]["service_request_id"]


def test_keys_are_checked_and_revocation_is_immediate(client, world, partner):
    assert client.post(f"{BASE}/requests.json", data={"service_code": "theft"}).status_code == 403
    assert _post(client, "tlp_000000000000_nope").status_code == 403
    secret = partner(world.commune_a)
    from tipline.api.models import PartnerKey

    key = db.session.scalar(select(PartnerKey))
    revoke_partner_key(world.user("admin"), key)
    db.session.commit()
    assert _post(client, secret).status_code == 403
    no_submit = partner(world.commune_a, may_submit=False)
    assert _post(client, no_submit).status_code == 403


def test_a_key_in_the_query_string_is_not_a_credential(client, world, make_tip, partner):
    make_tip(world.a1)
    secret = partner(world.commune_a)
    listed = client.get(f"{BASE}/requests.json", query_string={"api_key": secret})
    assert listed.status_code == 403


def test_every_use_of_a_key_is_logged_without_the_client(client, world, partner):
    secret = partner(world.commune_a)
    reference = _post(client, secret).get_json()[0]["service_request_id"]
    client.get(f"{BASE}/requests/{reference}.json", headers={"X-Api-Key": secret})
    client.get(f"{BASE}/requests.json?start_date=bad", headers={"X-Api-Key": secret})
    uses = db.session.scalars(select(ApiUse).order_by(ApiUse.id)).all()
    assert [(u.method, u.status, u.tip_reference) for u in uses] == [
        ("POST", 201, reference),
        ("GET", 200, reference),
        ("GET", 400, None),
    ]
    assert uses[0].endpoint == "/open311/v2/requests.{fmt}"
    columns = {c.key for c in inspect(ApiUse).columns}
    assert not {"ip", "address", "user_agent", "remote_addr"} & columns


def test_media_upload_goes_through_photo_cleaning(client, world, partner):
    secret = partner(world.commune_a)
    data = {
        "service_code": "theft",
        "description": "Có người lạ đột nhập kho lúa của thôn.",
        "lat": "19.8",
        "long": "105.7",
        "media": (io.BytesIO(_jpeg()), "photo.jpg"),
    }
    response = client.post(
        f"{BASE}/requests.json",
        data=data,
        headers={"X-Api-Key": secret},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    tip = db.session.scalar(select(Tip))
    assert len(tip.photos) == 1 and tip.photos[0].width == 120
    broken = client.post(
        f"{BASE}/requests.json",
        data={**data, "media": (io.BytesIO(b"not an image"), "x.jpg")},
        headers={"X-Api-Key": secret},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 400  # GeoReport v2: bad input is a 400
    assert broken.get_json()[0]["code"] == 400


@pytest.fixture
def image_server():
    """A local HTTP server on 127.0.0.1 that serves one JPEG (no network)."""
    body = _jpeg()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path != "/photo.jpg":
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_media_url_is_fetched_only_from_allowed_addresses(
    app, client, world, partner, image_server, monkeypatch
):
    secret = partner(world.commune_a)
    url = f"{image_server}/photo.jpg"
    # Loopback (and every private address) is refused unless a test allows it.
    assert _post(client, secret, media_url=url).status_code == 400
    for bad in (
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://[::7f00:1]/x",
        "http://[64:ff9b::7f00:1]/x",
        "http://[2002:7f00:1::]/x",
        "http://[::ffff:127.0.0.1]/x",
    ):
        assert _post(client, secret, media_url=bad).status_code == 400, bad
    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK", True)
    assert _post(client, secret, media_url=f"{image_server}/missing.jpg").status_code == 400
    response = _post(client, secret, media_url=url)
    assert response.status_code == 201
    assert len(db.session.scalar(select(Tip)).photos) == 1


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104  # nosec B104 - an address refused, not bound
        "::",
        "::1",
        "fe80::1%eth0",
        "fec0::1",
        "fc00::1",
        "::7f00:1",  # IPv4-compatible ::127.0.0.1
        "::a00:1",  # IPv4-compatible ::10.0.0.1
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64, well-known prefix
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::7f00:1",  # NAT64, local-use prefix: refused whatever it embeds
        "64:ff9b:1::808:808",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "2001:0:a00:1::f7f7:f7f7",  # Teredo, server 10.0.0.1
        "2001:0:808:808::f7f7:f7f7",  # Teredo even to public hosts (2001::/23 is not global)
    ],
)
def test_media_addresses_that_lead_inside_are_refused(app, world, monkeypatch, address):
    from tipline.api.media import allowed

    assert not allowed(address)
    # The test-only loopback allowance is for 127.0.0.1 itself, never an embedded form.
    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK", True)
    assert allowed(address) is (address == "127.0.0.1")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_media_addresses_that_lead_to_public_hosts_are_allowed(world, address):
    from tipline.api.media import allowed

    assert allowed(address)


@pytest.fixture
def drip_server():
    """A local server that sends one byte at a time: of its headers, or of its body."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 9000\r\n"
                + b"X-Padding: "
                + b"y" * 150
                + b"\r\n\r\n"
            )
            if self.path == "/body":
                self.wfile.write(head)
                self.wfile.flush()
                head = b""
            # At most 5 s of dripping, so that a fetch without a deadline still ends.
            for byte in (head + b"x" * 250)[:250]:
                if stop.wait(0.02):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return  # the fetch gave up

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_dripping_media_server_is_cut_at_the_deadline(app, world, monkeypatch, drip_server, part):
    from tipline.api.media import MediaError, fetch_media

    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(MediaError) as refused:
        fetch_media(f"{drip_server}/{part}")
    assert time.monotonic() - started < 1.5
    assert "quá lâu" in str(refused.value)


def test_a_tls_handshake_that_never_ends_is_cut_at_the_deadline(app, world, monkeypatch):
    from tipline.api.media import MediaError, fetch_media

    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_TIMEOUT", 0.5)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        started = time.monotonic()
        with pytest.raises(MediaError) as refused:
            fetch_media(f"https://127.0.0.1:{silent.getsockname()[1]}/photo.jpg")
    assert time.monotonic() - started < 1.5
    assert "quá lâu" in str(refused.value)


def test_a_dripping_media_url_is_a_400_for_the_partner(
    app, client, world, partner, monkeypatch, drip_server
):
    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "TIPLINE_OPEN311_MEDIA_TIMEOUT", 0.5)
    secret = partner(world.commune_a)
    started = time.monotonic()
    response = _post(client, secret, media_url=f"{drip_server}/body")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 400
    assert "quá lâu" in response.get_json()[0]["description"]
    assert db.session.scalar(select(Tip)) is None


def test_each_key_has_its_own_rate_limit(app, world, other_app, partner):
    limited = other_app(
        settings_like(app, RATELIMIT_ENABLED=True, TIPLINE_API_KEY_LIMIT="2 per hour")
    )
    client = limited.test_client()
    first, second = partner(world.commune_a), partner(world.commune_a)
    answers = [
        client.get(f"{BASE}/services.json", headers={"X-Api-Key": first}).status_code
        for _ in range(3)
    ]
    assert answers == [200, 200, 429]
    assert client.get(f"{BASE}/services.json", headers={"X-Api-Key": second}).status_code == 200


def test_wrong_keys_count_against_the_client_limit(app, world, other_app):
    limited = other_app(
        settings_like(app, RATELIMIT_ENABLED=True, TIPLINE_API_PUBLIC_LIMIT="2 per hour")
    )
    client = limited.test_client()
    wrong = {"X-Api-Key": "tlp_000000000000_guess"}
    # Services need no key: a wrong one is ignored, but still counts as a keyless client.
    answers = [client.get(f"{BASE}/services.json", headers=wrong).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert client.get(f"{BASE}/services.json").status_code == 429
    assert client.get("/api/v1/tips", headers={"Authorization": "Bearer x"}).status_code == 429


def test_nul_and_control_characters_are_a_400_not_a_500(client, world, partner):
    secret = partner(world.commune_a)
    for fields in ({"service_code": "theft\x00"}, {"attribute[commune]": "A\x00" * 30}):
        response = _post(client, secret, **fields)
        assert response.status_code in (201, 400, 404), fields  # 404: no such service
