"""Deadlines and notifications: the cron commands, and email through a local SMTP server."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import (
    EventKind,
    Handler,
    IdentityTier,
    OutboxMessage,
    StaffEmail,
    Tip,
)
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
    db.session.add(StaffEmail(user_id=world.user(name).id, email=email, **flags))
    db.session.commit()


def test_new_urgent_tip_is_emailed_without_the_tipsters_identity(runner, world, make_tip, smtp):
    _subscribe(world, "leader_a1", "totruong@example.test")
    _subscribe(world, "police_a", "congan@example.test")
    _subscribe(world, "leader_b1", "other@example.test")  # another commune
    _subscribe(world, "leader_a2", "quiet@example.test", urgent_tips=False)
    urgent = make_tip(
        world.a1,
        category=world.fight,
        identity_tier=IdentityTier.NAMED,
        name="Trần Văn Danh",
        phone="0987654321",
        description="Hai nhóm đánh nhau, tôi là Trần Văn Danh",
    )
    make_tip(world.a1)  # normal: no email
    result = runner.invoke(args=["tipline", "notify", "send"])
    assert result.exit_code == 0, result.output
    recipients = sorted(r for tos, _ in smtp.messages for r in tos)
    assert recipients == ["congan@example.test", "totruong@example.test"]
    for _tos, content in smtp.messages:
        assert urgent.reference in content
        assert f"/staff/tips/{urgent.public_id}" in content
        assert "Trần Văn Danh" not in content and "0987654321" not in content
        assert "hai nhóm" not in content.lower()
    # Sent once: a second run sends nothing.
    runner.invoke(args=["tipline", "notify", "send"])
    assert len(smtp.messages) == 2
    assert db.session.scalar(select(OutboxMessage)).sent_at is not None


def test_without_an_smtp_host_nothing_is_sent_and_messages_wait(runner, world, make_tip):
    make_tip(world.a1, category=world.fight)
    result = runner.invoke(args=["tipline", "notify", "send"])
    assert result.exit_code == 0 and "not set" in result.output
    assert db.session.scalar(select(OutboxMessage)).sent_at is None


def test_unreachable_smtp_server_keeps_messages_for_the_next_run(
    app, runner, world, make_tip, monkeypatch
):
    make_tip(world.a1, category=world.fight)
    monkeypatch.setitem(app.config, "TIPLINE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "TIPLINE_SMTP_PORT", _free_port())
    result = runner.invoke(args=["tipline", "notify", "send"])
    assert result.exit_code != 0
    assert db.session.scalar(select(OutboxMessage)).sent_at is None


def test_email_settings_page_validates_and_saves(login, world):
    client = login("leader_a1")
    response = client.post("/staff/settings/notifications", data={"email": "not-an-email"})
    assert response.status_code == 400
    assert "Địa chỉ email không hợp lệ" in response.get_data(as_text=True)
    response = client.post(
        "/staff/settings/notifications", data={"email": "a@example.test", "urgent_tips": "y"}
    )
    assert response.status_code == 303
    settings = db.session.get(StaffEmail, world.user("leader_a1").id)
    assert settings.email == "a@example.test" and settings.urgent_tips is True
    assert settings.tipster_replies is False
    client.post("/staff/settings/notifications", data={"email": ""})
    assert db.session.get(StaffEmail, world.user("leader_a1").id) is None


def test_escalation_command_hands_unattended_tips_to_the_police(runner, world, make_tip, smtp):
    _subscribe(world, "police_a", "congan@example.test")
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
    runner.invoke(args=["tipline", "notify", "send"])
    assert [tos for tos, _ in smtp.messages] == [["congan@example.test"]] * 2
    assert runner.invoke(args=["tipline", "escalate-stale", "--hours", "0"]).exit_code == 2
