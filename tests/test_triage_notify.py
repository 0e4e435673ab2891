"""Deadlines and e-mail alerts: the escalation command, and e-mail through a local SMTP server."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from tipline.alerts.models import FAILED, SENT, AlertPreference, Delivery, StaffEmail
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import EventKind, Handler, IdentityTier, Tip
from tipline.tips.workflow import Action

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        text = f"{mail['Subject']}\n{mail.get_content()}"
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on localhost, for this test only."""
    handler = Inbox()
    controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setitem(app.config, "TIPLINE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "TIPLINE_SMTP_PORT", controller.port)
    yield handler
    controller.stop()


def _subscribe(world, name, email, **flags):
    user = world.user(name)
    db.session.add(StaffEmail(user_id=user.id, email=email))
    if flags:
        defaults = {"new_tips": False, "urgent_tips": True, "tipster_replies": True}
        db.session.add(
            AlertPreference(
                user_id=user.id, channel="email", escalations=True, **(defaults | flags)
            )
        )
    db.session.commit()


def _send(runner):
    result = runner.invoke(args=["tipline", "worker", "--once", "--no-jobs"])
    assert result.exit_code == 0, result.output
    return result


def test_new_urgent_tip_is_emailed_without_the_tipsters_identity(runner, world, make_tip, smtp):
    _subscribe(world, "leader_a1", "totruong@example.test")
    _subscribe(world, "police_a", "congan@example.test")
    _subscribe(world, "leader_b1", "other@example.test")  # another commune
    _subscribe(world, "leader_a2", "quiet@example.test", urgent_tips=False)
    _subscribe(world, "member_a1", "member@example.test", urgent_tips=False)
    urgent = make_tip(
        world.a1,
        category=world.fight,
        identity_tier=IdentityTier.NAMED,
        name="Trần Văn Danh",
        phone="0987654321",
        description="Hai nhóm đánh nhau, tôi là Trần Văn Danh",
        place="Bãi chợ thôn Đông",
    )
    _send(runner)
    recipients = sorted(r for tos, _ in smtp.messages for r in tos)
    # leader_a2 leads another village: the tip is not theirs to act on.
    assert recipients == ["congan@example.test", "totruong@example.test"]
    for _tos, content in smtp.messages:
        assert urgent.reference in content
        assert f"/staff/tips/{urgent.public_id}" in content
        assert "Trần Văn Danh" not in content and "0987654321" not in content
        assert "hai nhóm" not in content.lower() and "Bãi chợ" not in content
        assert world.fight.name not in content  # the category only when asked for
    # Sent once: a second run sends nothing.
    _send(runner)
    assert len(smtp.messages) == 2
    states = db.session.scalars(select(Delivery.state).where(Delivery.channel == "email")).all()
    assert states == [SENT, SENT]


def test_village_leaders_get_every_new_tip_by_default_and_members_only_urgent(
    runner, world, make_tip, smtp
):
    _subscribe(world, "leader_a1", "totruong@example.test")
    _subscribe(world, "member_a1", "tovien@example.test")
    make_tip(world.a1)  # a normal tip
    _send(runner)
    assert [tos for tos, _ in smtp.messages] == [["totruong@example.test"]]


def test_without_an_smtp_host_no_email_delivery_is_written(runner, world, make_tip):
    _subscribe(world, "leader_a1", "totruong@example.test")
    make_tip(world.a1, category=world.fight)
    result = runner.invoke(args=["tipline", "notify", "send"])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Delivery).where(Delivery.channel == "email")).all() == []


def test_unreachable_smtp_server_keeps_the_alert_for_a_later_try(
    app, runner, world, make_tip, monkeypatch
):
    _subscribe(world, "leader_a1", "totruong@example.test")
    make_tip(world.a1, category=world.fight)
    monkeypatch.setitem(app.config, "TIPLINE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "TIPLINE_SMTP_PORT", _free_port())
    result = runner.invoke(args=["tipline", "notify", "send"])
    assert result.exit_code == 1
    delivery = db.session.scalar(select(Delivery).where(Delivery.channel == "email"))
    assert delivery.state == FAILED and delivery.attempts == 1
    assert delivery.next_attempt_at > utcnow()
    assert "totruong" not in (delivery.last_error or "")


def test_escalation_command_hands_unattended_tips_to_the_police(runner, world, make_tip, smtp):
    _subscribe(world, "police_a", "congan@example.test", urgent_tips=False, new_tips=False)
    old = make_tip(world.a1, now=utcnow() - timedelta(hours=50))
    handled = make_tip(world.a1, now=utcnow() - timedelta(hours=50))
    workflow.transition(handled, Action.TRIAGE, world.user("member_a1"))
    recent = make_tip(world.a1, now=utcnow() - timedelta(hours=2))
    db.session.commit()
    result = runner.invoke(args=["tipline", "escalate-stale"])
    assert result.exit_code == 0, result.output
    assert "Escalated 1" in result.output and old.reference in result.output
    db.session.expire_all()
    assert db.session.get(Tip, old.id).handler == Handler.COMMUNE_POLICE
    assert db.session.get(Tip, handled.id).handler == Handler.VILLAGE_TEAM
    assert db.session.get(Tip, recent.id).handler == Handler.VILLAGE_TEAM
    event = db.session.get(Tip, old.id).events[-1]
    assert event.kind == EventKind.ESCALATED and event.actor_id is None
    # It is not a response: the tip still counts as unanswered.
    assert db.session.get(Tip, old.id).first_response_at is None
    # Running again changes nothing; a shorter window reaches the recent tip.
    assert "Escalated 0" in runner.invoke(args=["tipline", "escalate-stale"]).output
    assert "Escalated 1" in runner.invoke(args=["tipline", "escalate-stale", "--hours", "1"]).output
    _send(runner)
    assert [tos for tos, _ in smtp.messages] == [["congan@example.test"]] * 2
    assert all("Công an xã" in text for _, text in smtp.messages)
    assert runner.invoke(args=["tipline", "escalate-stale", "--hours", "0"]).exit_code == 2
