"""Tips by SMS after review: every staff word reaches the phone, in order; resident times
to the minute; the opt-in hash is per tip; the intake limits' order; the settled question."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tipline.alerts.worker import run_pass
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import MessageKind, Tip
from tipline.tips.workflow import Action

from .sms_fakes import FakeAndroidGateway
from .sms_intake_helpers import register, text

PHONE = "+84987654321"


@pytest.fixture
def android():
    fake = FakeAndroidGateway()
    yield fake
    fake.close()


@pytest.fixture
def commune_line(world, android):
    return register(world.commune_a, android)


def sent(fake) -> list[str]:
    return [m["textMessage"]["text"] for m in fake.received if m["phoneNumbers"][0] == PHONE]


def deliver() -> None:
    run_pass(run_jobs=False)
    db.session.expire_all()


def sms_tip(client, line) -> Tip:
    assert text(client, line, PHONE, "Co nguoi la lay trom bo o thon Dong")["action"] == "tip"
    db.session.expire_all()
    tip = db.session.scalars(select(Tip).order_by(Tip.id.desc())).first()
    deliver()  # the receipt
    return tip


def test_two_staff_questions_before_the_worker_both_go_in_order(
    client, world, login, android, commune_line
):
    tip = sms_tip(client, commune_line)
    police = login("police_a")
    for body in ("Cau hoi MOT: may gio?", "Cau hoi HAI: xe gi?"):
        asked = police.post(
            f"/staff/tips/{tip.public_id}/message", data={"body": body, "kind": "question"}
        )
        assert asked.status_code == 303
    deliver()
    texts = sent(android)[1:]
    assert len(texts) == 2, texts
    assert "Cau hoi MOT" in texts[0] and "Cau hoi HAI" in texts[1]
    assert all(tip.reference in t for t in texts)
    deliver()  # nothing is texted twice
    assert len(sent(android)) == 3


def test_a_triage_with_a_note_to_the_tipster_texts_the_state_and_the_note(
    client, world, android, commune_line
):
    tip = sms_tip(client, commune_line)
    workflow.transition(
        tip,
        Action.TRIAGE,
        world.user("police_a"),
        note="Xin cho biet them: may gio?",
        note_to_tipster=True,
    )
    deliver()
    texts = sent(android)[1:]
    assert len(texts) == 2, texts
    assert "co cap nhat" in texts[0]
    assert "Xin cho biet them: may gio?" in texts[1] and tip.reference in texts[1]


def test_a_status_change_waiting_then_a_question_both_go(client, world, android, commune_line):
    tip = sms_tip(client, commune_line)
    workflow.transition(tip, Action.TRIAGE, world.user("police_a"))
    workflow.send_message(tip, world.user("police_a"), "Anh o thon nao?", MessageKind.QUESTION)
    deliver()
    texts = sent(android)[1:]
    assert len(texts) == 2, texts
    assert "co cap nhat" in texts[0] and "Anh o thon nao?" in texts[1]
    # A later question goes alone, once.
    workflow.send_message(tip, world.user("police_a"), "Con gi nua?", MessageKind.QUESTION)
    deliver()
    texts = sent(android)[1:]
    assert len(texts) == 3 and "Con gi nua?" in texts[2]


def test_the_tip_form_sms_opt_in_hash_links_no_two_tips_nor_a_staff_number(world, make_tip):
    from tipline.alerts import sms_numbers
    from tipline.alerts.sms_models import StaffSmsNumber
    from tipline.tips.models import IdentityTier

    number = "0912345678"
    tips = [
        make_tip(world.a1, identity_tier=IdentityTier.CONFIDENTIAL, name="Nguoi Bao", phone=number)
        for _ in range(2)
    ]
    rows = [sms_numbers.subscribe_tip(tip, number) for tip in tips]
    db.session.flush()
    assert rows[0].phone_hash != rows[1].phone_hash
    staff = StaffSmsNumber(
        user_id=world.user("police_a").id,
        phone_sealed="x",
        phone_hash=sms_numbers._number_hash("+84912345678"),
    )
    assert staff.phone_hash not in {row.phone_hash for row in rows}
    assert rows[0].phone_hash == sms_numbers.tip_number_hash("+84912345678", tips[0].id)


@pytest.mark.commits  # the limiter's own app, on the same database
def test_repeats_and_one_numbers_flood_cost_the_gateway_nothing(app, world, limited):
    from types import SimpleNamespace

    from sqlalchemy import func

    from tipline.sms.models import SmsWebhookEvent

    from .sms_intake_helpers import body_for, post

    with app.app_context():
        fake = FakeAndroidGateway()
        line = register(world.commune_a, fake)
        gateway = SimpleNamespace(public_id=line.public_id)
    try:
        limited_app = limited(
            TIPLINE_SMS_NUMBER_LIMIT="2 per hour", TIPLINE_SMS_GATEWAY_LIMIT="3 per hour"
        )
        client = limited_app.test_client()
        first = body_for(PHONE, "Tin dau", event_id="event-one")
        assert post(client, gateway, first).get_json()["status"] == "ok"
        for _ in range(3):  # the gateway sends the same event again: no count
            assert post(client, gateway, first).get_json()["status"] == "repeat"
        answers = [text(client, gateway, PHONE, f"Tin {i}")["status"] for i in range(4)]
        assert answers == ["ok", "limited", "limited", "limited"]
        assert text(client, gateway, "+84911222333", "Tin khac")["status"] == "ok"
        busy = post(client, gateway, body_for("+84911222444", "Tin nua", event_id="event-late"))
        assert busy.status_code == 429 and "quá nhiều tin" in busy.get_json()["error"]
        with limited_app.app_context():
            # The refused event is not kept: the gateway's retry later is taken.
            assert db.session.scalar(select(func.count(SmsWebhookEvent.id))) == 6
            assert db.session.scalar(select(func.count(Tip.id))) == 3
    finally:
        fake.close()


CLOSING = {"note": "Da hoa giai xong.", "note_to_tipster": True}


def close_resolved(tip, world) -> None:
    from tipline.tips.models import Outcome

    police = world.user("police_a")
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(tip, action, police)
    workflow.transition(tip, Action.RESOLVE, police, outcome=Outcome.MEDIATED, **CLOSING)


def test_the_settled_question_goes_by_sms_and_the_answer_comes_back(
    client, world, android, commune_line
):
    from tipline.tips.models import TipStatus, TipsterAnswer

    tip = sms_tip(client, commune_line)
    close_resolved(tip, world)
    deliver()
    question = sent(android)[-1]
    assert question == (
        f"Tin bao {tip.reference}: Viec nay da duoc giai quyet chua? "
        "Tra loi: XONG / CHUA / KHONG BIET"
    )
    assert "Da hoa giai xong." in sent(android)[-2] and "co cap nhat" in sent(android)[-3]
    # One answer, changeable within the window.
    assert text(client, commune_line, PHONE, "Xong")["action"] == "settled"
    db.session.expire_all()
    assert db.session.get(Tip, tip.id).tipster_answer == TipsterAnswer.DONE
    assert text(client, commune_line, PHONE, "khong biet")["action"] == "settled"
    db.session.expire_all()
    assert db.session.get(Tip, tip.id).tipster_answer == TipsterAnswer.UNKNOWN
    # CHUA reopens once, with the reference too.
    answer = text(client, commune_line, PHONE, f"CHUA {tip.reference}")
    assert answer["action"] == "settled"
    db.session.expire_all()
    tip = db.session.get(Tip, tip.id)
    assert tip.status == TipStatus.VERIFYING and tip.reopened_at is not None
    deliver()
    assert any("mo lai" in t for t in sent(android))
    # Closed again: a second CHUA is refused with the reason, nothing changes.
    workflow.transition(tip, Action.VERIFY, world.user("police_a"))
    workflow.transition(tip, Action.RESOLVE, world.user("police_a"), outcome=_mediated(), **CLOSING)
    deliver()
    assert text(client, commune_line, PHONE, "chua")["action"] == "settled_refused"
    db.session.expire_all()
    assert db.session.get(Tip, tip.id).status == TipStatus.RESOLVED
    deliver()
    assert "da duoc mo lai mot lan" in sent(android)[-1]


def _mediated():
    from tipline.tips.models import Outcome

    return Outcome.MEDIATED


def test_xong_without_a_closed_tip_is_a_tip_as_before(client, world, android, commune_line):
    sms_tip(client, commune_line)
    assert text(client, commune_line, PHONE, "xong")["action"] in ("tip", "answer")


def test_the_dashboard_breaks_received_tips_down_by_source(login, world, make_tip, time_machine):
    from datetime import datetime

    from tipline.tips.models import RejectReason, TipSource

    time_machine.move_to(datetime(2026, 11, 2, 2, 0), tick=False)
    make_tip(world.a1)
    make_tip(world.a1)
    make_tip(world.a2, source=TipSource.SMS)
    rejected = make_tip(world.a1, source=TipSource.SMS)
    workflow.transition(rejected, Action.REJECT, world.user("police_a"), reason=RejectReason.SPAM)
    make_tip(world.b1, source=TipSource.SMS)  # another commune
    db.session.commit()
    html = login("police_a").get("/staff/bao-cao/?ky=2026-11&don-vi=A").get_data(as_text=True)
    section = html.split('id="sources-title"')[1].split("</section>")[0]
    found = {}
    for source in TipSource:
        cell = section.split(f'id="source-{source.value}"')[1].split("</tr>")[0]
        found[source] = int(cell.rsplit('class="num">', 1)[1].split("<")[0])
    assert found[TipSource.ONLINE] == 2 and found[TipSource.SMS] == 1
    assert sum(found.values()) == 3
    assert 'id="dash-received">3<' in html  # the same count as "received"
    assert "Người dân nhắn tin SMS" in section


@pytest.mark.commits  # the limiter's own app, on the same database
def test_tc_by_sms_goes_through_the_follow_up_guard(app, world, limited):
    from types import SimpleNamespace

    with app.app_context():
        fake = FakeAndroidGateway()
        line = register(world.commune_a, fake)
        gateway = SimpleNamespace(public_id=line.public_id)
    try:
        limited_app = limited(
            TIPLINE_SMS_NUMBER_LIMIT="100 per hour",
            TIPLINE_SMS_GATEWAY_LIMIT="100 per hour",
            TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=3,
        )
        client = limited_app.test_client()
        wrong = "TC TL-ABCD-EFGH ABCD-EFGH-JKLM-NPQR"
        answers = [text(client, gateway, PHONE, wrong)["action"] for _ in range(4)]
        assert answers == ["not_found", "not_found", "not_found", "too_many"]
        # Another number is not slowed down by this one's wrong codes.
        assert text(client, gateway, "+84911222333", wrong)["action"] == "not_found"
    finally:
        fake.close()


def test_a_stop_drops_what_waits_and_tc_and_goi_lai_are_still_answered(
    client, world, android, commune_line
):
    from tipline.sms.models import SmsOutgoing

    assert text(client, commune_line, PHONE, "Co trom o thon Dong")["action"] == "tip"
    assert text(client, commune_line, PHONE, "DUNG")["action"] == "stop"
    # The receipt queued in the same minute is dropped: only the stop's confirmation waits.
    assert len(db.session.scalars(select(SmsOutgoing)).all()) == 1
    deliver()
    assert len(sent(android)) == 1 and "Da ngung gui tin nhan" in sent(android)[0]
    assert text(client, commune_line, PHONE, "TC")["action"] == "status"
    assert text(client, commune_line, PHONE, "GOI LAI")["action"] == "callback"
    deliver()
    later = sent(android)[1:]
    assert len(later) == 2 and "Tin bao TL-" in later[0] and "goi lai" in later[1]


def test_a_question_waiting_then_a_status_change_both_go(client, world, android, commune_line):
    tip = sms_tip(client, commune_line)
    workflow.send_message(tip, world.user("police_a"), "Anh o thon nao?", MessageKind.QUESTION)
    workflow.transition(tip, Action.TRIAGE, world.user("police_a"))
    deliver()
    texts = sent(android)[1:]
    assert len(texts) == 2, texts
    assert "co cap nhat" in texts[0] and "Anh o thon nao?" in texts[1]
