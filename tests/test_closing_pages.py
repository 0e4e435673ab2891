"""Closing and reopening through the pages: the tipster's question on the status page, the
staff's closing note and undo, satisfaction and rejections on the dashboard and /so-lieu,
the false-report sentence (issue 22)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from tipline.extensions import db
from tipline.tips import counts, settled, workflow
from tipline.tips.models import Handler, Outcome, RejectReason, TipStatus, TipsterAnswer
from tipline.tips.services import ALPHABET
from tipline.tips.workflow import Action

NOTE = {"note": "Đã xác minh, hai bên đã hòa giải.", "note_to_tipster": True}
T0 = datetime(2026, 11, 2, 2, 0)  # 09:00 on 2 Nov 2026 in Hà Nội
QUESTION = "Việc này đã được giải quyết chưa?"


def code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(16))


@pytest.fixture
def closed(world, make_tip, time_machine):
    """A tip of village A1 resolved with a note on 3 Nov, and its two codes."""
    time_machine.move_to(T0, tick=False)
    secret = code()
    tip = make_tip(world.a1, follow_up_code=secret)
    leader = world.user("leader_a1")
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(tip, action, leader)
    time_machine.move_to(T0 + timedelta(days=1), tick=False)
    workflow.transition(tip, Action.RESOLVE, leader, outcome=Outcome.MEDIATED, **NOTE)
    db.session.commit()
    return tip, secret


def sign_in(client, tip, secret):
    response = client.post("/tra-cuu", data={"reference": tip.reference, "code": secret})
    assert response.status_code == 200
    return response


def test_status_page_shows_the_closing_note_and_asks(client, closed):
    tip, secret = closed
    page = sign_in(client, tip, secret).get_data(as_text=True)
    assert NOTE["note"] in page
    assert QUESTION in page and 'value="not_done"' in page and 'name="line"' in page


def test_done_then_changed_inside_the_window(client, closed, time_machine):
    tip, secret = closed
    sign_in(client, tip, secret)
    response = client.post("/tra-cuu/da-giai-quyet", data={"answer": "done", "line": "Cảm ơn"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Cảm ơn bạn đã trả lời." in page and "Bạn đã trả lời: Đã xong" in page
    assert client.post("/tra-cuu/da-giai-quyet", data={"answer": "unknown"}).status_code == 303
    db.session.expire_all()
    assert tip.tipster_answer == TipsterAnswer.UNKNOWN
    assert counts.differences() == {}


def test_not_settled_puts_the_tip_back_in_the_police_queue(client, closed, login, world):
    tip, secret = closed
    sign_in(client, tip, secret)
    response = client.post("/tra-cuu/da-giai-quyet", data={"answer": "not_done"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tin đã được mở lại" in page and "Đang xác minh" in page
    db.session.expire_all()
    assert (tip.status, tip.handler) == (TipStatus.VERIFYING, Handler.COMMUNE_POLICE)
    police = login("police_a")
    assert tip.reference in police.get("/staff/").get_data(as_text=True)
    detail = police.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert "Mở lại tin báo" in detail and 'value="verify"' in detail
    # A second "not settled" after the next closing: refused, nothing changes.
    workflow.transition(tip, Action.MARK_UNFOUNDED, world.user("police_a"), **NOTE)
    db.session.commit()
    refused = client.post("/tra-cuu/da-giai-quyet", data={"answer": "not_done"})
    assert refused.status_code == 409
    assert "mở lại một lần" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert tip.status == TipStatus.UNFOUNDED


def test_answer_after_the_window_gets_a_message_and_changes_nothing(
    app, client, closed, time_machine
):
    tip, secret = closed
    days = app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    time_machine.move_to(T0 + timedelta(days=1 + days, minutes=1), tick=False)
    page = sign_in(client, tip, secret).get_data(as_text=True)
    assert QUESTION not in page
    response = client.post("/tra-cuu/da-giai-quyet", data={"answer": "not_done"})
    assert response.status_code == 409 and "Đã quá" in response.get_data(as_text=True)
    db.session.expire_all()
    assert tip.status == TipStatus.RESOLVED and tip.tipster_answer is None


def test_answer_to_an_open_tip_or_a_bad_answer_is_refused(client, world, make_tip):
    secret = code()
    tip = make_tip(world.a1, follow_up_code=secret)
    sign_in(client, tip, secret)
    response = client.post("/tra-cuu/da-giai-quyet", data={"answer": "done"})
    assert response.status_code == 409 and "chưa được đóng" in response.get_data(as_text=True)
    response = client.post("/tra-cuu/da-giai-quyet", data={"answer": "yes"})
    assert response.status_code == 422 and "Hãy chọn" in response.get_data(as_text=True)
    db.session.expire_all()
    assert tip.tipster_answer is None and tip.status == TipStatus.RECEIVED


def test_answer_without_a_session_is_401(client, closed):
    response = client.post("/tra-cuu/da-giai-quyet", data={"answer": "not_done"})
    assert response.status_code == 401
    assert closed[0].status == TipStatus.RESOLVED


# --- staff -------------------------------------------------------------------------------


def test_staff_close_without_a_note_gets_a_message(login, world, make_tip):
    tip = make_tip(world.a1)
    leader_user = world.user("leader_a1")
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(tip, action, leader_user)
    db.session.commit()
    leader = login("leader_a1")
    page = leader.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert "Lời nhắn cho người báo tin (bắt buộc)" in page
    data = {"action": "resolve", "version": tip.version, "outcome": "mediated", "note": ""}
    response = leader.post(f"/staff/tips/{tip.public_id}/act", data=data)
    assert response.status_code == 409 and "người báo tin" in response.get_data(as_text=True)
    data |= {"note": "Đã hòa giải xong.", "note_to_tipster": "y"}
    assert leader.post(f"/staff/tips/{tip.public_id}/act", data=data).status_code == 303
    db.session.expire_all()
    assert tip.status == TipStatus.RESOLVED


def test_staff_undo_by_police_within_24_hours_only(login, world, make_tip, time_machine):
    time_machine.move_to(T0, tick=False)
    tip = make_tip(world.a1)
    workflow.transition(tip, Action.REJECT, world.user("leader_a1"), reason=RejectReason.SPAM)
    db.session.commit()
    url = f"/staff/tips/{tip.public_id}/act"
    leader = login("leader_a1")
    assert 'value="undo_rejection"' not in leader.get(url[: -len("/act")]).get_data(as_text=True)
    denied = leader.post(url, data={"action": "undo_rejection", "version": tip.version})
    assert denied.status_code == 403
    time_machine.move_to(T0 + timedelta(hours=25), tick=False)
    police = login("police_a")
    late = police.post(url, data={"action": "undo_rejection", "version": tip.version})
    assert late.status_code == 409 and "24 giờ" in late.get_data(as_text=True)
    db.session.expire_all()
    assert tip.status == TipStatus.REJECTED
    time_machine.move_to(T0 + timedelta(hours=23), tick=False)
    police = login("police_a")
    assert 'value="undo_rejection"' in police.get(url[: -len("/act")]).get_data(as_text=True)
    done = police.post(url, data={"action": "undo_rejection", "version": tip.version})
    assert done.status_code == 303
    db.session.expire_all()
    assert tip.status == TipStatus.RECEIVED and tip.reject_reason is None
    assert counts.differences() == {}


def test_reject_form_offers_false_report_to_police_only(login, world, make_tip):
    tip = make_tip(world.a1)
    leader_page = login("leader_a1").get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    police_page = login("police_a").get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert 'value="false_report"' not in leader_page
    assert 'value="false_report"' in police_page


# --- figures -------------------------------------------------------------------------------


def answered_tips(world, make_tip, answers, unit=None):
    """Tips resolved on 3 Nov whose tipsters gave `answers` on 4 Nov."""
    tips = []
    leader = world.user("leader_a2" if unit == world.a2 else "leader_a1")
    for value in answers:
        tip = make_tip(unit or world.a1, now=T0)
        for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
            workflow.transition(tip, action, leader, at=T0)
        workflow.transition(
            tip,
            Action.RESOLVE,
            leader,
            outcome=Outcome.MEDIATED,
            at=T0 + timedelta(days=1),
            **NOTE,
        )
        settled.answer(tip, value, None, at=T0 + timedelta(days=2))
        tips.append(tip)
    db.session.commit()
    return tips


def test_satisfaction_is_withheld_below_three_answers(client, login, world, make_tip):
    answered_tips(world, make_tip, ["done", "unknown"])
    dashboard = login("police_a").get("/staff/bao-cao/?ky=2026-11&don-vi=A")
    assert dashboard.status_code == 200
    html = dashboard.get_data(as_text=True)
    assert 'id="dash-satisfaction">–<' in html or 'id="dash-satisfaction">—<' in html
    public = client.get("/so-lieu?ky=2026-11").get_data(as_text=True)
    assert "pub-satisfaction" in public and "50" not in public.split("pub-satisfaction")[1][:40]


def test_satisfaction_share_on_dashboard_public_page_and_review(client, login, world, make_tip):
    answered_tips(world, make_tip, ["done", "done", "not_done", "unknown"])
    assert counts.differences() == {}
    html = login("police_a").get("/staff/bao-cao/?ky=2026-11&don-vi=A").get_data(as_text=True)
    assert 'id="dash-satisfaction">50,0 %<' in html
    public = client.get("/so-lieu?ky=2026-11").get_data(as_text=True)
    assert 'id="pub-satisfaction">50,0 %<' in public
    review = login("officer").get("/staff/bao-cao/so-ket?ky=2026&don-vi=T").get_data(as_text=True)
    assert "Đã xong" in review and 'id="review-10a"' in review


def test_satisfaction_of_a_lone_village_is_not_worked_out_from_the_commune(login, world, make_tip):
    answered_tips(world, make_tip, ["done", "done", "done", "not_done"])
    answered_tips(world, make_tip, ["not_done"], unit=world.a2)
    from tipline.reports.dashboard import dashboard
    from tipline.reports.periods import parse_period

    data = dashboard(world.user("police_a"), world.commune_a, parse_period("2026-11"))
    shares = {
        (ref.code if ref else None): s
        for (ref, _), s in zip(data["rows"], data["row_satisfaction"], strict=True)
    }
    assert shares["A2"].share is None and shares["A2"].answers.small
    # A1's four answers would give A2's one away from the commune's five: withheld too.
    assert shares["A1"].share is None and shares["A1"].answers.withheld
    assert data["satisfaction"].share == pytest.approx(3 / 5)


def test_rejections_by_reason_and_undone_on_the_dashboard(login, world, make_tip, time_machine):
    time_machine.move_to(T0, tick=False)
    police = world.user("police_a")
    spam, false, undone = (make_tip(world.a1) for _ in range(3))
    workflow.transition(spam, Action.REJECT, police, reason=RejectReason.SPAM)
    workflow.transition(false, Action.REJECT, police, reason=RejectReason.FALSE_REPORT)
    workflow.transition(undone, Action.REJECT, police, reason=RejectReason.OUT_OF_SCOPE)
    workflow.transition(undone, Action.UNDO_REJECTION, police)
    db.session.commit()
    html = login("police_a").get("/staff/bao-cao/?ky=2026-11&don-vi=A").get_data(as_text=True)
    section = html.split('id="rejections-title"')[1]
    assert "Tin báo sai sự thật" in section
    for row, n in (("false_report", 1), ("spam", 1), ("out_of_scope", 0)):
        assert f'id="rejected-{row}"' in section
        cell = section.split(f'id="rejected-{row}"')[1].split("</tr>")[0]
        assert f">{n}<" in cell
    assert ">1<" in section.split('id="rejections-undone"')[1].split("</tr>")[0]
    assert 'id="dash-received">1<' in html  # the undone one only


def test_false_report_sentence_on_the_form_and_the_privacy_page(client, world):
    sentence = "chỉ cố ý báo tin sai sự thật mới bị xử phạt (Nghị định 144/2021/NĐ-CP)"
    assert sentence in client.get("/rieng-tu").get_data(as_text=True)
    form = client.get("/gui-tin?xa=A", follow_redirects=True).get_data(as_text=True)
    assert sentence in form
    assert sentence not in client.get("/tra-cuu").get_data(as_text=True)
