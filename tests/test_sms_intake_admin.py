"""Administrators register SMS gateways in their scope; posters print the number."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tipline.alerts.sms import sms_parts
from tipline.extensions import db
from tipline.sms import texts
from tipline.sms.gateways import driver_for, serving
from tipline.sms.models import SmsGateway

from .conftest import database_text

FORM = {
    "unit": "A",
    "number": "0912 000 111",
    "url": "http://192.168.1.20:8080",
    "user": "sms",
    "password": "app-password-123",
    "signing_key": "signing-key-123",
    "sim": "",
}


def test_an_administrator_registers_a_gateway_with_its_secrets_sealed(login, world):
    client = login("admin")
    page = client.get("/admin/sms-gateways/")
    assert page.status_code == 200 and "Đăng ký máy nhận tin SMS" in page.get_data(as_text=True)
    answer = client.post("/admin/sms-gateways/", data=FORM)
    assert answer.status_code == 303
    gateway = db.session.scalar(select(SmsGateway))
    assert gateway.unit_id == world.commune_a.id and gateway.number == "0912 000 111"
    stored = database_text()
    assert "app-password-123" not in stored and "signing-key-123" not in stored
    assert driver_for(gateway).endpoint == "http://192.168.1.20:8080/messages"
    listing = client.get("/admin/sms-gateways/").get_data(as_text=True)
    assert f"/sms/webhook/{gateway.public_id}" in listing
    assert serving(world.commune_a) == gateway and serving(world.commune_b) is None
    off = client.post(f"/admin/sms-gateways/{gateway.public_id}/off")
    assert off.status_code == 303 and serving(world.commune_a) is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"unit": "A1"}, "trong phạm vi"),  # a village: not a gateway's unit
        ({"unit": "ZZ"}, "trong phạm vi"),
        ({"number": "12345"}, "số điện thoại Việt Nam"),
        ({"url": "https://api.sms-gate.app/3rdparty/v1"}, "sms-gate.app"),
        ({"url": "ftp://phone"}, "http(s)"),
        ({"password": ""}, "mật khẩu"),
        ({"signing_key": "short"}, "ít nhất 8"),
        ({"sim": "9"}, "khe SIM"),
    ],
)
def test_bad_gateway_settings_get_a_clear_400_and_nothing_is_kept(login, world, change, words):
    answer = login("admin").post("/admin/sms-gateways/", data={**FORM, **change})
    assert answer.status_code == 400
    assert words in answer.get_data(as_text=True)
    assert db.session.scalar(select(SmsGateway)) is None


@pytest.mark.parametrize("user", ["police_a", "committee_a", "officer", "leader_a1"])
def test_only_administrators_register_gateways(login, world, user):
    client = login(user)
    assert client.get("/admin/sms-gateways/").status_code == 404
    assert client.post("/admin/sms-gateways/", data=FORM).status_code == 404
    assert db.session.scalar(select(SmsGateway)) is None


def test_a_province_gateway_serves_communes_without_their_own(login, world):
    login("admin").post("/admin/sms-gateways/", data={**FORM, "unit": "T", "number": "0912000999"})
    province = db.session.scalar(select(SmsGateway))
    assert serving(world.commune_a) == province and serving(world.commune_b) == province
    login("admin").post("/admin/sms-gateways/", data=FORM)
    assert serving(world.commune_a).unit_id == world.commune_a.id
    assert serving(world.commune_b) == province


def test_every_reply_fits_two_parts_and_the_receipt_one(app, ctx):
    ref, code = "TL-ABCD-EFGH", "ABCD-EFGH-JKLM-NPQR"
    replies = {
        "receipt": texts.receipt(ref, code),
        "ask_commune": texts.ask_commune(),
        "confirm_commune": texts.confirm_commune("phường Bắc Sơn Thượng Hạ"),
        "unknown_commune": texts.unknown_commune(),
        "empty": texts.empty(),
        "status": texts.status(ref, "Đã tiếp nhận, đang xử lý"),
        "not_found": texts.not_found(),
        "stopped": texts.stopped(),
        "callback": texts.callback(ref),
        "no_tip": texts.no_tip(),
        "answer_received": texts.answer_received(ref),
        "update": texts.update(ref, "Đã tiếp nhận, đang xử lý"),
    }
    assert sms_parts(texts.fit(replies["receipt"])).count == 1
    for name, reply in replies.items():
        first = texts.fit(f"{reply} {texts.privacy()}")
        assert sms_parts(first).count <= 2, name
        assert first.isascii(), name
    long_question = texts.staff_message(ref, "Anh chị cho biết thêm chi tiết " * 30)
    assert sms_parts(long_question).count == 2 and long_question.endswith("Tra loi bang tin nhan.")


def test_marks_stay_when_asked_for_and_they_fit(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_MARKS", True)
    assert texts.fit(texts.stopped()) == texts.stopped()  # 66 characters: one UCS-2 part
    assert sms_parts(texts.fit(texts.stopped())).encoding == "ucs2"
    receipt = texts.fit(texts.receipt("TL-ABCD-EFGH", "ABCD-EFGH-JKLM-NPQR"))
    assert sms_parts(receipt).count <= 2
