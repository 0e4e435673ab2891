"""Tips by SMS, end to end: the gateway's real webhook format in, the worker's replies out.

The webhook bodies are SMS Gateway for Android's documented examples (tests/data/
sms_gateway), signed as the app signs them; replies go through the outbox and the worker
to sms_fakes' local gateway, which speaks the app's API.
"""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from tipline.alerts.models import Delivery
from tipline.alerts.worker import run_pass
from tipline.extensions import db
from tipline.sms.models import SmsOutgoing, SmsSender, SmsTipLink
from tipline.tips.models import IdentityTier, MessageKind, Tip, TipMessage, TipSource

from .conftest import database_text
from .sms_fakes import FakeAndroidGateway
from .sms_intake_helpers import register, text

PHONE = "+84987654321"
OTHER = "+84911222333"


@pytest.fixture
def android():
    fake = FakeAndroidGateway()
    yield fake
    fake.close()


@pytest.fixture
def commune_line(world, android):
    return register(world.commune_a, android)


@pytest.fixture
def province_line(world, android):
    return register(world.province, android, number="0912 000 999")


def sent(fake) -> list[tuple[str, str]]:
    return [(m["phoneNumbers"][0], m["textMessage"]["text"]) for m in fake.received]


def deliver() -> None:
    run_pass(run_jobs=False)
    db.session.expire_all()


def tip_of(answer) -> Tip:
    db.session.expire_all()
    tips = db.session.scalars(select(Tip).order_by(Tip.id.desc())).all()
    assert tips, answer
    return tips[0]


def test_a_resident_does_everything_by_sms(client, world, login, android, commune_line, caplog):
    caplog.set_level(logging.DEBUG)
    # 1. A tip, in plain words without marks, on the commune's number.
    answer = text(client, commune_line, PHONE, "Co nguoi la lay trom bo o thon Dong dem qua")
    assert answer == {"status": "ok", "action": "tip"}
    tip = tip_of(answer)
    assert tip.source == TipSource.SMS
    assert tip.unit_id == world.commune_a.id
    assert tip.identity_tier == IdentityTier.ANONYMOUS and tip.contact_id is None
    assert "lay trom bo" in tip.description

    # 2. Its receipt, through the worker to the phone: reference, code, how to follow up,
    # and (the first reply to this number) what is kept and who sees it.
    deliver()
    [(to, receipt)] = sent(android)
    assert to == PHONE
    code = re.search(r"Ma tra cuu: ([2-9A-Z-]{19})", receipt).group(1)
    assert tip.reference in receipt and f"TC {tip.reference} {code}" in receipt
    assert "Cong an xa giu" in receipt
    assert receipt.isascii()

    # 3. A staff question goes out by SMS as text; the answer comes back into the tip.
    police = login("police_a")
    asked = police.post(
        f"/staff/tips/{tip.public_id}/message",
        data={"body": "Anh thấy mấy người, đi xe gì?", "kind": "question"},
    )
    assert asked.status_code == 303
    deliver()
    to, question = sent(android)[-1]
    assert to == PHONE
    assert "Anh thay may nguoi, di xe gi?" in question and tip.reference in question
    answer = text(client, commune_line, PHONE, "Hai nguoi, di xe may Wave mau do")
    assert answer["action"] == "answer"
    [reply] = db.session.scalars(
        select(TipMessage).where(TipMessage.tip_id == tip.id, TipMessage.kind == MessageKind.REPLY)
    ).all()
    assert reply.body == "Hai nguoi, di xe may Wave mau do"
    deliver()
    assert "Da nhan tra loi" in sent(android)[-1][1]

    # 4. Follow up: "TC <reference> <code>" from any phone, a bare "TC" from the same one.
    assert text(client, commune_line, OTHER, f"tc {tip.reference} {code}")["action"] == "status"
    assert text(client, commune_line, PHONE, "TC")["action"] == "status"
    assert text(client, commune_line, OTHER, "TC")["action"] == "not_found"
    deliver()
    replies = sent(android)[-3:]
    assert replies[0] == (
        OTHER,
        f"Tin bao {tip.reference}: Moi tiep nhan. " + replies[0][1].split("Moi tiep nhan. ", 1)[1],
    )
    assert replies[1][0] == PHONE and f"Tin bao {tip.reference}: Moi tiep nhan." in replies[1][1]
    assert replies[2][0] == OTHER and "Khong tim thay" in replies[2][1]
    # The staff page shows the source, and no number at all.
    page = police.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert "Người dân nhắn tin SMS" in page
    for shown in ("987654321", "987 654 321", "0987"):
        assert shown not in page
    # The number is never in the logs, nor in the clear in the database.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    everything = database_text()
    for form in ("987654321", "0987654321"):
        assert form not in logged
        assert form not in everything
    # Each reply went once (the gateway's message id is the delivery's key).
    assert all(d.state == "sent" for d in db.session.scalars(select(Delivery)))


def test_the_receipt_fits_one_sms_and_gives_a_code_the_lookup_page_takes(
    client, world, android, commune_line
):
    text(client, commune_line, PHONE, "Trộm cắp ở chợ")  # the first reply: with privacy
    text(client, commune_line, PHONE, "Đánh nhau ở bến đò")  # a second receipt: alone
    deliver()
    first, second = (body for _, body in sent(android))
    from tipline.alerts.sms import sms_parts

    assert sms_parts(second).count == 1 and sms_parts(second).encoding == "gsm7"
    assert sms_parts(first).count <= 2
    tip = tip_of(None)
    code = re.search(r"Ma tra cuu: ([2-9A-Z-]{19})", second).group(1)
    page = client.post("/tra-cuu", data={"reference": tip.reference, "code": code})
    assert page.status_code in (200, 303)
    followed = client.get("/tra-cuu") if page.status_code == 303 else page
    assert tip.reference in followed.get_data(as_text=True)


def test_a_province_number_asks_which_commune_and_confirms_when_unsure(
    client, world, android, province_line
):
    assert text(client, province_line, PHONE, "Có đánh nhau ở chợ")["action"] == "ask"
    assert db.session.scalar(select(func.count(Tip.id))) == 0
    assert text(client, province_line, PHONE, "Hà Nội")["action"] == "unknown_commune"
    assert text(client, province_line, PHONE, "an bin")["action"] == "confirm"
    assert text(client, province_line, PHONE, "CO")["action"] == "tip"
    tip = tip_of(None)
    assert tip.unit_id == world.commune_a.id and tip.description == "Có đánh nhau ở chợ"
    # Sure at once: the name with or without marks, with or without its kind.
    assert text(client, province_line, OTHER, "trom xe")["action"] == "ask"
    assert text(client, province_line, OTHER, "PHUONG BAC SON")["action"] == "tip"
    assert tip_of(None).unit_id == world.commune_b.id
    deliver()
    texts = [body for to, body in sent(android) if to == PHONE]
    assert texts[0].startswith("Tin cua ban o xa, phuong nao?")
    assert "Co phai xa An Binh? Tra loi CO hoac gui lai ten xa." in texts[2]
    assert all(len(t) <= 306 for t in texts)


def test_the_question_expires(client, world, android, province_line, app, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_CONVERSATION_MINUTES", 0)
    assert text(client, province_line, PHONE, "Có trộm")["action"] == "ask"
    # The state expired at once: "An Binh" is now a tip text waiting for its commune.
    assert text(client, province_line, PHONE, "An Binh")["action"] == "ask"
    assert db.session.scalar(select(func.count(Tip.id))) == 0


@pytest.mark.parametrize(
    "number", ["+84 987 654 321", "84987654321", "0987654321", "0987 654 321", "0987.654.321"]
)
def test_odd_number_formats_are_one_number(client, world, android, commune_line, number):
    text(client, commune_line, PHONE, "Trộm gà")
    text(client, commune_line, number, "Trộm vịt")
    assert db.session.scalar(select(func.count(SmsSender.id))) == 1


@pytest.mark.parametrize("message", ["", "   ", "😀😀", "\u0301\u0303", "!!! ?"])
def test_an_empty_message_or_only_marks_makes_no_tip(client, world, android, commune_line, message):
    assert text(client, commune_line, PHONE, message)["action"] == "empty"
    assert db.session.scalar(select(func.count(Tip.id))) == 0
    deliver()
    [(to, reply)] = sent(android)
    assert to == PHONE and "chua co noi dung" in reply


def test_dung_stops_every_message_to_that_number(client, world, login, android, commune_line):
    text(client, commune_line, PHONE, "Trộm cắp")
    tip = tip_of(None)
    deliver()
    assert text(client, commune_line, PHONE, "Dừng")["action"] == "stop"
    login("police_a").post(
        f"/staff/tips/{tip.public_id}/message", data={"body": "Ở đâu?", "kind": "question"}
    )
    # The question is not texted; a TC the number sends itself is still answered.
    assert text(client, commune_line, PHONE, "tc")["action"] == "status"
    deliver()
    bodies = [body for _, body in sent(android)]
    assert len(bodies) == 3 and "Da ngung gui tin nhan" in bodies[1]
    assert bodies[2].startswith(f"Tin bao {tip.reference}:") and "O dau" not in bodies[2]


def test_goi_lai_makes_the_tip_confidential_for_the_commune_police(
    client, world, login, android, commune_line
):
    text(client, commune_line, PHONE, "Có người buôn bán ma túy")
    tip = tip_of(None)
    assert text(client, commune_line, PHONE, "gọi lại")["action"] == "callback"
    db.session.expire_all()
    tip = db.session.get(Tip, tip.id)
    assert tip.identity_tier == IdentityTier.CONFIDENTIAL
    url = f"/staff/tips/{tip.public_id}/identity"
    police = login("police_a").post(url)
    assert police.status_code == 200 and "0987654321" in police.get_data(as_text=True)
    for other in ("committee_a", "leader_a1"):
        refused = login(other).post(url)
        assert refused.status_code in (403, 404)
        assert "0987654321" not in refused.get_data(as_text=True)


def test_replies_go_through_the_gateway_the_sms_came_in_on(client, world, commune_line, android):
    other = FakeAndroidGateway(password="another-phone")  # noqa: S106
    try:
        province = register(world.province, other, number="0912 000 999")
        text(client, province, PHONE, "Có trộm")
        text(client, commune_line, OTHER, "Có cướp")
        deliver()
        assert [to for to, _ in sent(other)] == [PHONE]
        assert [to for to, _ in sent(android)] == [OTHER]
    finally:
        other.close()


def test_a_gateway_that_is_offline_is_retried_by_the_outbox(client, world, commune_line, android):
    android.mode = "503"
    text(client, commune_line, PHONE, "Có trộm")
    deliver()
    [delivery] = db.session.scalars(select(Delivery).where(Delivery.channel == "smsreply"))
    assert delivery.state == "failed" and "busy" in delivery.last_error
    assert db.session.scalar(select(func.count(SmsOutgoing.id))) == 1  # still waiting


def test_retention_forgets_the_number_when_the_reply_window_ends(
    client, world, login, android, commune_line, app
):
    from datetime import timedelta

    from tipline.core.timeutil import utcnow
    from tipline.sms.retention import sweep

    text(client, commune_line, PHONE, "Có trộm")
    tip = tip_of(None)
    deliver()
    tip.status = tip.status.__class__.REJECTED
    tip.reject_reason = tip.reject_reason.__class__("spam") if tip.reject_reason else None
    from tipline.tips.models import RejectReason

    tip.reject_reason = RejectReason.SPAM
    tip.closed_at = utcnow() - timedelta(days=app.config["TIPLINE_TIPSTER_REPLY_DAYS"] + 1)
    db.session.commit()
    sweep(utcnow(), utcnow() - timedelta(days=365))
    db.session.commit()
    assert db.session.scalar(select(func.count(SmsTipLink.tip_id))) == 0
    assert db.session.scalar(select(func.count(SmsSender.id))) == 0
