"""Two-way messages between staff and the tipster, and the tipster's short session (issue 5)."""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from PIL import Image
from sqlalchemy import select

from tipline.accounts import permissions
from tipline.alerts import delivery
from tipline.alerts.channels.base import TIPSTER_REPLY
from tipline.alerts.channels.email import compose_mail
from tipline.alerts.compose import compose
from tipline.alerts.models import Delivery, Notification
from tipline.core.errors import NotAllowed
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import (
    EventKind,
    MessageKind,
    Outcome,
    Tip,
    TipMessage,
)
from tipline.tips.services import ALPHABET
from tipline.tips.workflow import Action, WorkflowError

from .conftest import settings_like

COOKIE = "tipline_tipster"
NOW = datetime(2026, 11, 2, 3, 5, 37, tzinfo=UTC)


@pytest.fixture
def receipt(world, make_tip):
    """A tip of village A1 and its two codes."""
    code = new_code()
    tip = make_tip(world.a1, follow_up_code=code)
    return tip, tip.reference, code


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(16))


def sign_in(client, reference: str, code: str, prefix: str = ""):
    response = client.post(f"{prefix}/tra-cuu", data={"reference": reference, "code": code})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def tipster_cookies(response) -> list[str]:
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "=")]


def reply(client, body: str, kind: str = "reply", prefix: str = ""):
    return client.post(f"{prefix}/tra-cuu/tin-nhan", data={"body": body, "kind": kind})


def staff_message(login, tip, body: str, *, who="leader_a1", kind="question"):
    response = login(who).post(
        f"/staff/tips/{tip.public_id}/message", data={"body": body, "kind": kind}
    )
    return response


def fresh(tip) -> Tip:
    db.session.expire_all()
    return db.session.get(Tip, tip.id)


# --- the tipster's session ---------------------------------------------------------------


def test_follow_up_sets_a_session_cookie_that_dies_with_the_browser(client, receipt):
    tip, reference, code = receipt
    response = sign_in(client, reference, code)
    cookies = tipster_cookies(response)
    # One per language prefix; never Flask's session.
    assert sorted(c.split("Path=")[1].split(";")[0] for c in cookies) == ["/en/tra-cuu", "/tra-cuu"]
    assert client.get_cookie("session") is None
    for cookie in cookies:
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attributes and "samesite=strict" in attributes
        assert "secure" not in attributes  # development serves plain HTTP
        assert not any(a.startswith(("expires", "max-age")) for a in attributes)
    token = cookies[0].split(";")[0].split("=", 1)[1]
    assert reference not in token and code not in token
    secret = client.application.config["SECRET_KEY"]
    # The tip's public id and its session version (tipline/public/tipster_session.py).
    claims = URLSafeTimedSerializer(secret, salt="tipster-session").loads(token)
    assert claims == [tip.public_id, 0]
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_is_secure_in_production(app, client, receipt, monkeypatch):
    _, reference, code = receipt
    monkeypatch.setitem(app.config, "TIPLINE_PRODUCTION", True)
    cookies = tipster_cookies(sign_in(client, reference, code))
    assert cookies and all("Secure" in c for c in cookies)


def test_wrong_code_starts_no_session(client, receipt):
    _, reference, _ = receipt
    response = client.post("/tra-cuu", data={"reference": reference, "code": "A" * 16})
    assert response.status_code == 422
    assert tipster_cookies(response) == []


def test_status_page_within_the_session_is_not_cached(client, receipt):
    tip, reference, code = receipt
    sign_in(client, reference, code)
    page = client.get("/tra-cuu/tin")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert tip.reference in html and "Thoát" in html
    # The codes are not on a page opened by the cookie.
    assert code not in html


def test_session_ends_after_the_configured_minutes(app, client, receipt, time_machine):
    _, reference, code = receipt
    time_machine.move_to(NOW, tick=False)
    sign_in(client, reference, code)
    minutes = app.config["TIPLINE_TIPSTER_SESSION_MINUTES"]
    time_machine.move_to(NOW + timedelta(minutes=minutes - 1), tick=False)
    assert client.get("/tra-cuu/tin").status_code == 200
    time_machine.move_to(NOW + timedelta(minutes=minutes, seconds=1), tick=False)
    expired = client.get("/tra-cuu/tin")
    assert expired.status_code == 401
    html = expired.get_data(as_text=True)
    assert f"Phiên tra cứu đã hết hạn (sau {minutes} phút)" in html
    assert 'name="code"' in html  # the lookup form, to start again
    assert client.get_cookie(COOKIE, path="/tra-cuu") is None
    # A message written after the end is refused, and the page says it was not saved.
    sign_in(client, reference, code)
    time_machine.move_to(NOW + timedelta(minutes=2 * minutes + 1), tick=False)
    refused = reply(client, "Tôi nhớ thêm biển số xe.", kind="information")
    assert refused.status_code == 401
    assert "chưa được lưu" in refused.get_data(as_text=True)
    assert db.session.scalar(select(TipMessage)) is None


def test_minutes_come_from_the_setting(app, client, receipt, monkeypatch, time_machine):
    _, reference, code = receipt
    monkeypatch.setitem(app.config, "TIPLINE_TIPSTER_SESSION_MINUTES", 3)
    time_machine.move_to(NOW, tick=False)
    sign_in(client, reference, code)
    time_machine.move_to(NOW + timedelta(minutes=4), tick=False)
    assert client.get("/tra-cuu/tin").status_code == 401


def test_sign_out_ends_the_session(client, receipt):
    _, reference, code = receipt
    sign_in(client, reference, code)
    out = client.post("/tra-cuu/thoat")
    assert out.status_code == 200 and "Bạn đã thoát" in out.get_data(as_text=True)
    assert client.get_cookie(COOKIE, path="/tra-cuu") is None
    assert client.get("/tra-cuu/tin").status_code == 401


def test_a_forged_or_foreign_token_opens_nothing(app, client, world, make_tip):
    tip = make_tip(world.a1)
    client.set_cookie(COOKIE, "x" + tip.public_id, path="/tra-cuu")
    assert client.get("/tra-cuu/tin").status_code == 401
    other_key = URLSafeTimedSerializer("another-secret-key", salt="tipster-session")
    client.set_cookie(COOKIE, other_key.dumps(tip.public_id), path="/tra-cuu")
    assert client.get("/tra-cuu/tin").status_code == 401


def test_english_pages_keep_their_own_session(client, receipt):
    tip, reference, code = receipt
    sign_in(client, reference, code, prefix="/en")
    page = client.get("/en/tra-cuu/tin")
    assert page.status_code == 200 and '<html lang="en"' in page.get_data(as_text=True)
    answer = reply(client, "More detail in English pages.", kind="information", prefix="/en")
    assert answer.status_code == 303
    assert answer.location.startswith("/en/tra-cuu/tin")


# --- messages ------------------------------------------------------------------------------


def test_staff_question_reaches_the_tipster_who_answers(app, client, login, world, receipt):
    tip, reference, code = receipt
    assert staff_message(login, tip, "Xe máy màu gì, anh/chị có nhớ không?").status_code == 303
    sign_in(client, reference, code)
    html = client.get("/tra-cuu/tin").get_data(as_text=True)
    assert "Xe máy màu gì, anh/chị có nhớ không?" in html
    assert "Leader A1" not in html  # no staff names on the tipster's page
    assert 'value="reply"' in html  # an open question: the answer button

    answer = reply(client, "Màu đỏ, biển 36B1.")
    assert answer.status_code == 303
    assert answer.location.endswith("/tra-cuu/tin?da-gui=reply")
    shown = client.get(answer.location).get_data(as_text=True)
    assert "Đã gửi câu trả lời của bạn." in shown and "Màu đỏ, biển 36B1." in shown

    tip = fresh(tip)
    kinds = [m.kind for m in tip.messages]
    assert kinds[:2] == [MessageKind.QUESTION, MessageKind.REPLY]
    assert tip.messages[1].author_id is None
    event = tip.events[-1]
    assert event.kind == EventKind.TIPSTER_MESSAGE and not event.public and event.actor is None
    replied = select(Notification).where(Notification.kind == TIPSTER_REPLY)
    [waiting] = db.session.scalars(replied).all()
    assert waiting.for_staff  # the staff who can act are found by the worker
    # A second reply before the alerts leave does not queue a second alert for anyone.
    assert reply(client, "Thêm: có hai người.", "information").status_code == 303
    assert db.session.scalars(replied).all() == [waiting]
    delivery.fan_out(100)
    queued = [n.user_id for n in db.session.scalars(replied)]
    assert world.users["leader_a1"].id in queued and len(queued) == len(set(queued))

    # The inbox's "unread replies" shows it to the team until they open it.
    leader = login("leader_a1")
    assert tip.reference in leader.get("/staff/?replies=1").get_data(as_text=True)
    staff_page = leader.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert "Màu đỏ, biển 36B1." in staff_page
    assert tip.reference not in leader.get("/staff/?replies=1").get_data(as_text=True)


def test_email_about_a_reply_never_carries_its_text(app, world, receipt, login):
    tip, *_ = receipt
    workflow.receive_tipster_message(tip, "Bí mật: ông Tư bán hàng cấm.", MessageKind.INFORMATION)
    db.session.commit()
    message = db.session.scalar(select(Notification).where(Notification.kind == TIPSTER_REPLY))
    row = Delivery(id=1, channel="email", target="1")
    with app.test_request_context():
        alert = compose(message, tip, row, show_category=True)
        mail = compose_mail(alert, "to@example.vn")
    assert tip.reference in mail.as_string()
    assert "ông Tư" not in mail.as_string() and "Bí mật" not in mail.as_string()


def test_internal_notes_never_reach_the_tipster(client, login, world, receipt):
    tip, reference, code = receipt
    leader = login("leader_a1")
    leader.post(f"/staff/tips/{tip.public_id}/note", data={"body": "NỘI BỘ: nghi hàng xóm số 7"})
    leader.post(
        f"/staff/tips/{tip.public_id}/note",
        data={"body": "Chúng tôi đang xác minh.", "to_tipster": "y"},
    )
    staff_message(login, tip, "Bạn còn thấy xe đó không?", kind="status_note")
    html = sign_in(client, reference, code).get_data(as_text=True)
    session_html = client.get("/tra-cuu/tin").get_data(as_text=True)
    for page in (html, session_html):
        assert "Chúng tôi đang xác minh." in page
        assert "Bạn còn thấy xe đó không?" in page
        assert "NỘI BỘ" not in page and "hàng xóm số 7" not in page


def test_message_text_is_cleaned_bounded_and_escaped(client, receipt):
    tip, reference, code = receipt
    sign_in(client, reference, code)
    assert (
        reply(client, "<script>alert(1)</script>\x00 xin\r\nchào", "information").status_code == 303
    )
    stored = db.session.scalar(select(TipMessage.body))
    assert stored == "<script>alert(1)</script> xin\nchào"
    html = client.get("/tra-cuu/tin").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html

    too_long = reply(client, "x" * 2001, "information")
    assert too_long.status_code == 422
    assert "Tin nhắn tối đa 2000 ký tự." in too_long.get_data(as_text=True)
    empty = reply(client, "  \x00 ", "information")
    assert empty.status_code == 422
    assert "Hãy viết nội dung tin nhắn." in empty.get_data(as_text=True)
    assert reply(client, "ok nhé", kind="question").status_code == 422  # not the tipster's kind
    assert len(fresh(tip).messages) == 1


def test_tipster_times_are_kept_to_the_minute(client, receipt, time_machine):
    tip, reference, code = receipt
    time_machine.move_to(NOW, tick=False)
    sign_in(client, reference, code)
    reply(client, "Thêm một chi tiết.", "information")
    tip = fresh(tip)
    message = tip.messages[0]
    assert message.created_at == datetime(2026, 11, 2, 3, 5)
    assert tip.events[-1].at == datetime(2026, 11, 2, 3, 5)
    # Rounded up, so a staff member who opened the tip earlier in that minute sees it unread.
    assert tip.activity_at == datetime(2026, 11, 2, 3, 6)


def test_tipster_adds_a_photo_within_the_session(client, receipt):
    tip, reference, code = receipt
    sign_in(client, reference, code)
    page = client.get("/tra-cuu/tin").get_data(as_text=True)
    assert 'action="/tra-cuu/tin/anh"' in page
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 120, 200)).save(buffer, "JPEG")
    response = client.post(
        "/tra-cuu/tin/anh",
        data={"photo": [(io.BytesIO(buffer.getvalue()), "a.jpg", "image/jpeg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303 and response.location.endswith("da-gui=photo")
    tip = fresh(tip)
    assert len(tip.photos) == 1 and tip.activity_at > tip.submitted_at
    nothing = client.post("/tra-cuu/tin/anh", data={}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and "Hãy chọn ảnh." in nothing.get_data(as_text=True)


def test_a_closed_tip_takes_replies_for_a_grace_period_then_refuses(
    app, client, world, receipt, time_machine
):
    tip, reference, code = receipt
    police = world.user("police_a")
    time_machine.move_to(NOW, tick=False)
    workflow.transition(tip, Action.TRIAGE, police)
    workflow.transition(tip, Action.START_VERIFICATION, police)
    workflow.transition(
        tip, Action.MARK_UNFOUNDED, police, note="Không có cơ sở.", note_to_tipster=True
    )
    db.session.commit()
    days = app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    time_machine.move_to(NOW + timedelta(days=days - 1), tick=False)
    sign_in(client, reference, code)
    assert reply(client, "Cảm ơn các anh.", "information").status_code == 303

    time_machine.move_to(NOW + timedelta(days=days, minutes=1), tick=False)
    html = sign_in(client, reference, code).get_data(as_text=True)
    assert "đã đóng nên không nhận thêm tin nhắn" in html
    assert 'action="/tra-cuu/tin-nhan"' not in html
    refused = reply(client, "Còn một chuyện nữa.", "information")
    assert refused.status_code == 409
    assert "hãy gửi một tin báo mới" in refused.get_data(as_text=True)
    assert len(fresh(tip).messages) == 1
    with pytest.raises(WorkflowError):
        workflow.send_message(fresh(tip), police, "Hỏi thêm", MessageKind.QUESTION)


def test_duplicate_tip_shows_only_its_own_conversation(client, world, make_tip, login):
    code = new_code()
    tip = make_tip(world.a1, follow_up_code=code)
    original = make_tip(world.a1)
    leader = world.user("leader_a1")
    workflow.send_message(original, leader, "Câu hỏi cho tin gốc", MessageKind.QUESTION)
    workflow.send_message(tip, leader, "Câu hỏi cho tin này", MessageKind.QUESTION)
    workflow.transition(tip, Action.MARK_DUPLICATE, leader, duplicate_of=original)
    db.session.commit()
    html = sign_in(client, tip.reference, code).get_data(as_text=True)
    assert "Câu hỏi cho tin này" in html
    assert "Câu hỏi cho tin gốc" not in html


def test_handed_over_tip_keeps_messages_away_from_the_village_team(
    app, client, login, world, receipt
):
    tip, reference, code = receipt
    police = world.user("police_a")
    leader = world.user("leader_a1")
    workflow.transition(tip, Action.ESCALATE, leader, conflict_of_interest=True)
    workflow.send_message(tip, police, "Công an xã hỏi: ai đi cùng?", MessageKind.QUESTION)
    db.session.commit()
    sign_in(client, reference, code)
    assert reply(client, "Hai người đi cùng, tôi biết tên.").status_code == 303

    for who in ("leader_a1", "member_a1"):
        team = login(who)
        assert team.get(f"/staff/tips/{tip.public_id}").status_code == 404
        inbox = team.get("/staff/?replies=1").get_data(as_text=True)
        assert tip.reference not in inbox
        refused = team.post(
            f"/staff/tips/{tip.public_id}/message", data={"body": "x", "kind": "question"}
        )
        assert refused.status_code == 404
    police_page = login("police_a").get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert "Hai người đi cùng, tôi biết tên." in police_page
    # Nobody of the village team is mailed about it either.
    assert permissions.acting_roles(fresh(tip), leader) == set()


def test_staff_message_form_errors_are_4xx(login, receipt):
    tip, *_ = receipt
    empty = staff_message(login, tip, "   ")
    assert empty.status_code == 400
    wrong_kind = staff_message(login, tip, "Xin chào", kind="reply")
    assert wrong_kind.status_code == 400
    assert fresh(tip).messages == []


def test_message_posting_is_rate_limited(other_app, app, world, receipt):
    tip, reference, code = receipt
    limited = other_app(
        settings_like(
            app,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI="memory://",
            TIPLINE_MESSAGE_LIMIT="2 per hour",
        )
    )
    client = limited.test_client()
    with limited.app_context():
        sign_in(client, reference, code)
        statuses = [reply(client, f"Tin {n}", "information").status_code for n in range(3)]
    assert statuses == [303, 303, 429]


# --- workflow and permissions (units) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("member_a1", True),
        ("leader_a1", True),
        ("police_a", True),
        ("committee_a", True),
        ("officer", False),
        ("admin", False),
        ("leader_a2", False),
        ("police_b", False),
    ],
)
def test_who_may_write_to_the_tipster(world, make_tip, who, allowed):
    tip = make_tip(world.a1)
    user = world.user(who)
    assert permissions.can_message(tip, user) is allowed
    if allowed:
        message = workflow.send_message(tip, user, " Anh thấy lúc mấy giờ? ", MessageKind.QUESTION)
        assert message.body == "Anh thấy lúc mấy giờ?" and message.author_id == user.id
        assert tip.first_response_at is not None
    else:
        with pytest.raises(NotAllowed):
            workflow.send_message(tip, user, "Hỏi", MessageKind.QUESTION)


def test_once_handed_to_police_only_police_write(world, make_tip):
    tip = make_tip(world.a1)
    workflow.transition(tip, Action.ESCALATE, world.user("police_a"))
    assert not permissions.can_message(tip, world.user("leader_a1"))
    assert permissions.can_message(tip, world.user("police_a"))


def test_staff_cannot_send_a_tipster_kind_and_tipster_cannot_send_a_staff_kind(world, make_tip):
    tip = make_tip(world.a1)
    with pytest.raises(WorkflowError):
        workflow.send_message(tip, world.user("leader_a1"), "x", MessageKind.REPLY)
    with pytest.raises(WorkflowError):
        workflow.receive_tipster_message(tip, "x", MessageKind.QUESTION)
    with pytest.raises(WorkflowError):
        workflow.receive_tipster_message(tip, "y" * 2001, MessageKind.INFORMATION)


def test_messages_change_no_status_and_no_counter(world, make_tip):
    from tipline.tips import counts

    tip = make_tip(world.a1)
    leader = world.user("leader_a1")
    workflow.transition(tip, Action.TRIAGE, leader)
    workflow.transition(tip, Action.START_VERIFICATION, leader)
    workflow.transition(tip, Action.VERIFY, leader)
    status, version_events = tip.status, len(tip.events)
    workflow.send_message(tip, leader, "Cảm ơn", MessageKind.STATUS_NOTE)
    workflow.receive_tipster_message(tip, "Không có gì", MessageKind.REPLY)
    workflow.transition(
        tip,
        Action.RESOLVE,
        leader,
        outcome=Outcome.RECORDED,
        note="Đã ghi nhận.",
        note_to_tipster=True,
    )
    db.session.commit()
    assert status.value == "verified" and len(fresh(tip).events) == version_events + 3
    assert counts.differences() == {}
