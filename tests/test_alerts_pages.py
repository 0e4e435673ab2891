"""The alert pages: my alerts, the test alert, the settings page; and `flask tipline serve`
starting and stopping its worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from tipline.alerts import delivery
from tipline.alerts.channels.base import TEST
from tipline.alerts.models import AlertPreference, Delivery, Notification, StaffEmail
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import MessageKind

from .alerts_fake import FakeChannel, install, remove
from .conftest import PASSWORD, ROOT


@pytest.fixture
def fake(app):
    channel = install(FakeChannel())
    yield channel
    remove(channel)


def badge(html: str) -> str | None:
    """The unread count beside "Thông báo" in the staff menu."""
    match = re.search(r'tab-alerts.*?Thông báo(?: <span class="unread-count">(\d+))?', html)
    return match.group(1) if match else None


def test_my_alerts_list_unread_first_and_the_menu_counts_them(world, make_tip, login):
    first = make_tip(world.a1)
    second = make_tip(world.a1)
    workflow.receive_tipster_message(first, "Thêm.", MessageKind.INFORMATION)
    db.session.commit()
    leader = login("leader_a1")
    # Until the worker has found who can act, nobody has these alerts yet.
    assert badge(leader.get("/staff/thong-bao/").get_data(as_text=True)) is None
    delivery.fan_out(100)
    page = leader.get("/staff/thong-bao/").get_data(as_text=True)
    assert badge(page) == "3"
    titles = [
        f"Người báo tin trả lời tin {first.reference}",
        f"Tin báo mới {second.reference}",
        f"Tin báo mới {first.reference}",
    ]
    assert sorted(titles, key=page.index) == titles  # newest first
    assert f"/staff/tips/{first.public_id}" in page
    assert "Mất trộm" not in page  # the tip's text never
    # Opening a tip reads its alerts; unread ones stay on top.
    leader.get(f"/staff/tips/{first.public_id}")
    page = leader.get("/staff/thong-bao/").get_data(as_text=True)
    assert badge(page) == "1"
    assert page.index(f"Tin báo mới {second.reference}") < page.index(titles[0])
    # Another account's alerts are not mine.
    assert badge(login("leader_b1").get("/staff/thong-bao/").get_data(as_text=True)) is None


def test_mark_all_read(world, make_tip, login):
    make_tip(world.a1)
    delivery.fan_out(100)
    police = login("police_a")
    assert badge(police.get("/staff/thong-bao/").get_data(as_text=True)) == "1"
    assert police.post("/staff/thong-bao/doc-het").status_code == 303
    page = police.get("/staff/thong-bao/").get_data(as_text=True)
    assert badge(page) is None and "Đánh dấu đã đọc hết" not in page


def test_a_test_alert_goes_to_me_on_every_channel_i_have(world, login, fake):
    member = login("member_a1")
    answer = member.post("/staff/thong-bao/thu", follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Đã gửi thông báo thử qua:" in html and "fake" in html
    user = world.user("member_a1")
    notification = db.session.scalar(select(Notification).where(Notification.kind == TEST))
    assert notification.user_id == user.id and notification.fanned_out_at is not None
    assert "Thông báo thử của Tipline" in html and "đang chờ gửi" in html
    delivery.deliver()
    assert [target for target, _ in fake.sent] == [f"user-{user.id}"]
    assert "đã gửi" in member.get("/staff/thong-bao/").get_data(as_text=True)


def test_a_test_alert_without_any_channel_says_where_to_add_one(world, login):
    html = (
        login("officer").post("/staff/thong-bao/thu", follow_redirects=True).get_data(as_text=True)
    )
    assert "chỉ hiện trong ứng dụng" in html


def test_settings_page_shows_each_channel_with_the_roles_defaults(world, login):
    html = login("member_a1").get("/staff/settings/notifications").get_data(as_text=True)
    assert 'name="inapp-new_tips" value="y">' in html  # a member: urgent tips only
    assert 'name="inapp-urgent_tips" value="y" checked' in html
    assert 'name="email-show_category"' in html and 'name="inapp-show_category"' not in html
    html = login("leader_a1").get("/staff/settings/notifications").get_data(as_text=True)
    assert 'name="inapp-new_tips" value="y" checked' in html
    assert 'name="email-show_category" value="y">' in html  # off by default


def test_settings_are_saved_per_channel(world, login, make_tip):
    leader = login("leader_a1")
    form = {
        "email": "totruong@example.test",
        "inapp-shown": "1",
        "inapp-urgent_tips": "y",
        "inapp-tipster_replies": "y",
        "email-shown": "1",
        "email-urgent_tips": "y",
        "email-quiet_from": "22:00",
        "email-quiet_to": "06:00",
        "email-show_category": "y",
    }
    assert leader.post("/staff/settings/notifications", data=form).status_code == 303
    user = world.user("leader_a1")
    assert db.session.get(StaffEmail, user.id).email == "totruong@example.test"
    inapp = db.session.get(AlertPreference, (user.id, "inapp"))
    email = db.session.get(AlertPreference, (user.id, "email"))
    assert (inapp.new_tips, inapp.urgent_tips, inapp.tipster_replies) == (False, True, True)
    assert email.quiet_from.hour == 22 and email.quiet_to.hour == 6 and email.show_category
    assert not email.tipster_replies
    # A normal tip no longer reaches the leader anywhere.
    tip = make_tip(world.a1)
    delivery.fan_out(100)
    users = set(
        db.session.scalars(select(Notification.user_id).where(Notification.tip_id == tip.id))
    )
    assert user.id not in users
    html = leader.get("/staff/settings/notifications").get_data(as_text=True)
    assert 'value="22:00"' in html and 'name="email-show_category" value="y" checked' in html
    # An empty address removes it.
    leader.post("/staff/settings/notifications", data={"email": ""})
    assert db.session.get(StaffEmail, user.id) is None
    assert db.session.get(AlertPreference, (user.id, "inapp")).urgent_tips  # untouched


@pytest.mark.parametrize(
    ("quiet_from", "quiet_to", "message"),
    [
        ("25:00", "06:00", "Giờ không hợp lệ"),
        ("22:00", "", "cần cả giờ bắt đầu và giờ kết thúc"),
        ("07:00", "07:00", "phải khác nhau"),
    ],
)
def test_bad_quiet_hours_are_refused_with_a_reason_and_nothing_is_saved(
    world, login, quiet_from, quiet_to, message
):
    answer = login("leader_a1").post(
        "/staff/settings/notifications",
        data={"email-shown": "1", "email-quiet_from": quiet_from, "email-quiet_to": quiet_to},
    )
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert message in html and f'value="{quiet_from}"' in html
    assert db.session.scalars(select(AlertPreference)).all() == []


def test_a_bad_email_address_is_refused(world, login):
    answer = login("leader_a1").post("/staff/settings/notifications", data={"email": "x"})
    assert answer.status_code == 400
    assert "Địa chỉ email không hợp lệ" in answer.get_data(as_text=True)


def test_the_dead_letters_page_is_for_administrators_only(world, login):
    assert login("admin").get("/admin/thong-bao-loi/").status_code == 200
    assert login("police_a").get("/admin/thong-bao-loi/").status_code == 404
    assert login("admin").post("/admin/thong-bao-loi/gui-lai", data={}).status_code == 404


def test_a_settings_form_without_a_channel_changes_nothing_of_it(world, login):
    login("leader_a1").post("/staff/settings/notifications", data={"email": ""})
    assert db.session.scalars(select(Delivery)).all() == []
    assert db.session.scalars(select(AlertPreference)).all() == []


# --- flask tipline serve and its worker -------------------------------------------------


@pytest.mark.commits
def test_serve_starts_its_worker_and_stops_it_on_exit(app, tmp_path):
    from .test_serve import Output, instance_env

    env = instance_env(tmp_path)
    env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "tipline", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(server.stdout)
    try:
        pid = int(output.wait_for(r"alerts worker started \(pid (\d+)\)").group(1))
        # The same words from the worker itself, once it runs (its signal handlers are set).
        output.wait_for(rf"alerts worker started \(pid {pid}\)")
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0")
        assert b"worker" in args and str(server.pid).encode() in args
        server.send_signal(signal.SIGINT)  # Ctrl-C, to the server alone
        server.wait(timeout=30)  # it ends (TimeoutExpired otherwise)
        # The worker itself stopped on the SIGTERM it was sent (its handler, not a kill),
        # then the server saw it end.
        output.wait_for(r"^alerts worker stopped\s*$")
        output.wait_for(rf"alerts worker stopped \(pid {pid}\)")
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        output.close()


def test_serve_runs_the_worker_task_unless_told_not_to(runner, monkeypatch):
    from tipline.ops import serve as serve_module

    calls = []
    monkeypatch.setattr(serve_module, "serve", lambda app, host, port, **kw: calls.append(kw))
    assert runner.invoke(args=["tipline", "serve", "--no-reload"]).exit_code == 0
    assert runner.invoke(args=["tipline", "serve", "--no-worker"]).exit_code == 0
    assert [len(call["tasks"]) for call in calls] == [1, 0]
    command = serve_module.worker_command("wsgi.py")
    assert command[1:] == ["-m", "flask", "--app", "wsgi.py", "tipline", "worker"]


def test_the_menus_alert_count_is_kept_per_user_and_dropped_on_a_new_alert_or_a_mark(
    app, world, make_tip, login
):
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    def reads_of_notifications() -> list[str]:
        return [s for s in seen if s.lstrip().upper().startswith("SELECT") and "notifications" in s]

    make_tip(world.a1)
    delivery.fan_out(100)
    leader = login("leader_a1")
    assert badge(leader.get("/staff/").get_data(as_text=True)) == "1"
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = leader.get("/staff/").get_data(as_text=True)
        assert badge(page) == "1" and reads_of_notifications() == []  # kept
        # Another account has its own count.
        assert badge(login("police_a").get("/staff/").get_data(as_text=True)) == "1"
        assert badge(login("leader_b1").get("/staff/").get_data(as_text=True)) is None
        make_tip(world.a1)  # a new alert drops it
        delivery.fan_out(100)
        seen.clear()
        assert badge(leader.get("/staff/").get_data(as_text=True)) == "2"
        assert reads_of_notifications() != []
        assert leader.post("/staff/thong-bao/doc-het").status_code == 303  # so does a mark
        assert badge(leader.get("/staff/").get_data(as_text=True)) is None
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_test_alert_is_limited_per_account(limited, world):
    app = limited(TIPLINE_TEST_ALERT_LIMIT="2 per hour")

    def signed_in(name: str):
        client = app.test_client()
        response = client.post("/staff/login", data={"username": name, "password": PASSWORD})
        assert response.status_code == 302
        return client

    leader = signed_in("leader_a1")
    for _ in range(2):
        assert leader.post("/staff/thong-bao/thu").status_code == 303
    refused = leader.post("/staff/thong-bao/thu")
    assert refused.status_code == 429
    assert "nhiều thông báo thử trong một giờ qua" in refused.get_data(as_text=True)
    with app.app_context():
        sent = db.session.scalars(select(Notification).where(Notification.kind == TEST)).all()
    assert len(sent) == 2  # the refused one queued nothing
    assert signed_in("police_a").post("/staff/thong-bao/thu").status_code == 303  # per account
