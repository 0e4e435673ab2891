"""Account management in one's scope, the audit log, villages upload, staff sessions."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import func, select

from tipline.accounts.models import AuditAction, AuditEntry, Role, User
from tipline.accounts.passwords import password_problems, temporary_password
from tipline.extensions import db
from tipline.places.models import Unit

from .conftest import PASSWORD, settings_like

GOOD_PASSWORD = "ba con mèo trèo cây cau"


def temporary_from(response) -> str:
    html = response.get_data(as_text=True)
    return re.search(r'id="temporary-password">([^<]+)<', html).group(1)


def create(client, **fields):
    data = {"username": "tovienmoi", "full_name": "Trần Văn Mới", "role": "team_member"}
    data.update(fields)
    return client.post("/admin/users/new", data=data)


def entries(action: AuditAction) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def sign_in(app, username: str, password: str):
    client = app.test_client()
    response = client.post("/staff/login", data={"username": username, "password": password})
    return client, response


# --- password policy --------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, problem",
    [
        ("ngắn quá", "ít nhất 10 ký tự"),
        ("password123", "quá phổ biến"),
        ("Mật khẩu 123", "quá phổ biến"),  # "matkhau123", typed with marks and spaces
        ("aaaaaaaaaaaa", "quá ít ký tự khác nhau"),
        ("police_a-2026!", "tên đăng nhập"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(app, password, problem):
    with app.test_request_context():
        problems = password_problems(password, username="police_a", full_name="Police A")
    assert any(problem in p for p in problems), problems


def test_a_long_passphrase_passes(app):
    with app.test_request_context():
        assert password_problems(GOOD_PASSWORD, username="police_a") == []


def test_temporary_passwords_are_random_and_readable():
    first, second = temporary_password(), temporary_password()
    assert first != second
    assert re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", first)
    assert not set(first) & set("01ilo")


# --- who manages whom ---------------------------------------------------------------------


def test_commune_police_list_the_accounts_of_their_commune_only(world, login):
    html = login("police_a").get("/admin/users").get_data(as_text=True)
    for name in ("member_a1", "leader_a1", "leader_a2", "committee_a"):
        assert f'href="/admin/users/{name}"' in html
    for name in ("leader_b1", "police_b", "officer", "admin", "police_a"):
        assert f'href="/admin/users/{name}"' not in html


@pytest.mark.parametrize("name", ["leader_a1", "member_a1", "officer", "committee_a"])
def test_staff_who_manage_no_accounts_get_404(world, login, name):
    client = login(name)
    assert client.get("/admin/users").status_code == 404
    assert create(client, unit="A1").status_code == 404


def test_anonymous_visitors_are_sent_to_login(world, client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/staff/login" in response.location


def test_police_create_a_member_who_must_choose_a_password_first(app, world, login):
    police = login("police_a")
    response = create(police, unit="A1")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    temporary = temporary_from(response)
    user = db.session.scalar(select(User).where(User.username == "tovienmoi"))
    assert [(a.role, a.unit.code) for a in user.roles] == [(Role.TEAM_MEMBER, "A1")]
    assert user.must_change_password and user.check_password(temporary)
    assert temporary not in str([vars(e) for e in entries(AuditAction.USER_CREATED)])
    (entry,) = entries(AuditAction.USER_CREATED)
    assert (entry.actor.username, entry.target_user.username, entry.unit.code) == (
        "police_a",
        "tovienmoi",
        "A1",
    )

    member, signed = sign_in(app, "tovienmoi", temporary)
    assert signed.status_code == 302
    inbox = member.get("/staff/")
    assert inbox.status_code == 302 and inbox.location.endswith("/staff/tai-khoan/mat-khau")
    weak = member.post(
        "/staff/tai-khoan/mat-khau",
        data={"current": temporary, "new": "password123", "confirm": "password123"},
    )
    assert weak.status_code == 422 and "quá phổ biến" in weak.get_data(as_text=True)
    done = member.post(
        "/staff/tai-khoan/mat-khau",
        data={"current": temporary, "new": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert done.status_code == 302
    assert member.get("/staff/").status_code == 200
    db.session.expire_all()
    assert not user.must_change_password and user.check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(
    "fields",
    [
        {"unit": "B1"},  # another commune
        {"unit": "T"},  # above the commune
        {"unit": "A1", "role": "admin"},  # a role above police
        {"unit": "A1", "role": "officer"},
        {"unit": "A1", "username": "Có Dấu"},
        {"unit": "A1", "username": "leader_a1"},  # taken
    ],
)
def test_police_cannot_create_outside_their_reach_and_nothing_is_made(world, login, fields):
    before = db.session.scalar(select(func.count(User.id)))
    response = create(login("police_a"), **fields)
    assert response.status_code in (409, 422)
    assert "Đã tạo tài khoản" not in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(User.id))) == before


def test_administrators_reach_their_whole_subtree_and_every_role(world, login):
    response = create(login("admin"), unit="B", role="commune_police", username="congan_b2")
    assert response.status_code == 200
    assert "Đã tạo tài khoản" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["officer", "admin", "leader_b1", "police_a", "nobody"])
def test_accounts_out_of_reach_answer_404(world, login, target):
    police = login("police_a")
    assert police.get(f"/admin/users/{target}").status_code == 404
    assert police.post(f"/admin/users/{target}/active").status_code == 404
    assert police.post(f"/admin/users/{target}/password").status_code == 404


def test_deactivation_ends_the_sessions_at_the_next_request(world, login):
    member = login("member_a1")
    assert member.get("/staff/").status_code == 200
    police = login("police_a")
    assert police.post("/admin/users/member_a1/active").status_code == 302
    response = member.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.location
    assert entries(AuditAction.USER_DEACTIVATED)[0].target_user.username == "member_a1"
    client, refused = sign_in(police.application, "member_a1", PASSWORD)
    assert refused.status_code == 401


def test_a_removed_role_takes_effect_at_the_next_request(world, login, make_tip):
    tip = make_tip(world.a2)
    leader = login("leader_a1")
    police = login("police_a")
    assert (
        police.post(
            "/admin/users/leader_a1/roles", data={"role": "village_leader", "unit": "A2"}
        ).status_code
        == 302
    )
    assert leader.get(f"/staff/tips/{tip.public_id}").status_code == 200
    user = world.user("leader_a1")
    assignment = next(a for a in user.roles if a.unit.code == "A2")
    revoke = police.post(
        "/admin/users/leader_a1/roles/revoke",
        data={"role": assignment.role.value, "unit": assignment.unit.code},
    )
    assert revoke.status_code == 302
    assert leader.get(f"/staff/tips/{tip.public_id}").status_code == 404
    assert [e.detail for e in entries(AuditAction.ROLE_REVOKED)] == ["village_leader"]


def test_the_last_role_cannot_be_revoked(world, login):
    response = login("police_a").post(
        "/admin/users/leader_a1/roles/revoke", data={"role": "village_leader", "unit": "A1"}
    )
    assert response.status_code == 409
    assert "khóa tài khoản" in response.get_data(as_text=True)


def test_password_reset_ends_old_sessions_and_shows_a_temporary_password_once(app, world, login):
    member = login("member_a1")
    response = login("police_a").post("/admin/users/member_a1/password")
    temporary = temporary_from(response)
    assert member.get("/staff/").status_code == 302
    _, old = sign_in(app, "member_a1", PASSWORD)
    assert old.status_code == 401
    client, new = sign_in(app, "member_a1", temporary)
    assert new.status_code == 302
    assert client.get("/staff/").location.endswith("/staff/tai-khoan/mat-khau")


# --- the audit log --------------------------------------------------------------------------


def test_administrators_read_the_audit_log_of_their_subtree(world, login):
    create(login("police_a"), unit="A1")
    html = login("admin").get("/admin/audit").get_data(as_text=True)
    assert "Tạo tài khoản" in html and "tovienmoi" in html and "police_a" in html
    assert login("police_a").get("/admin/audit").status_code == 404


def test_the_audit_log_is_append_only(world, login):
    create(login("police_a"), unit="A1")
    (entry,) = entries(AuditAction.USER_CREATED)
    entry.detail = "changed"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


# --- idle sessions ---------------------------------------------------------------------------


def test_an_idle_session_ends(world, login, time_machine):
    time_machine.move_to("2026-11-29 08:00:00+00:00", tick=False)
    client = login("leader_a1")
    assert client.get("/staff/").status_code == 200
    time_machine.move_to("2026-11-29 08:29:00+00:00", tick=False)
    assert client.get("/staff/").status_code == 200  # activity keeps it alive
    time_machine.move_to("2026-11-29 08:58:30+00:00", tick=False)
    assert client.get("/staff/").status_code == 200
    time_machine.move_to("2026-11-29 09:29:00+00:00", tick=False)
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.location


# --- two-factor sign-in ------------------------------------------------------------------------


def test_two_factor_enrolment_gives_recovery_codes(world, login):
    client = login("police_a")
    page = client.get("/staff/tai-khoan/hai-buoc").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert 'src="data:image/svg+xml' in page
    wrong = client.post("/staff/tai-khoan/hai-buoc", data={"secret": secret, "code": "000000"})
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).now()
    done = client.post("/staff/tai-khoan/hai-buoc", data={"secret": secret, "code": code})
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert len(re.findall(r"<code>[a-z2-9]{5}-[a-z2-9]{5}</code>", html)) == 10
    assert world.user("police_a").totp_secret == secret
    assert entries(AuditAction.TWO_FACTOR_ENABLED)


def test_roles_that_require_two_factor_are_sent_to_enrol(other_app, app, world):
    settings = settings_like(
        app,
        RATELIMIT_ENABLED=False,
        TIPLINE_REQUIRE_2FA_ROLES=("commune_police",),
    )
    strict = other_app(settings)
    client, _ = sign_in(strict, "police_a", PASSWORD)
    response = client.get("/staff/")
    assert response.status_code == 302 and response.location.endswith("/staff/tai-khoan/hai-buoc")
    leader, _ = sign_in(strict, "leader_a1", PASSWORD)
    assert leader.get("/staff/").status_code == 200


# --- villages of a commune -------------------------------------------------------------------

VILLAGES = "code,name,kind\nA3,Thôn Bắc,thôn\n,Xóm Mới,xóm\n".encode()


def upload(client, data: bytes, code: str = "A"):
    from io import BytesIO

    return client.post(
        f"/admin/units/{code}/villages",
        data={"file": (BytesIO(data), "thon.csv")},
        content_type="multipart/form-data",
    )


def test_villages_file_is_previewed_then_confirmed(world, login):
    admin = login("admin")
    preview = upload(admin, VILLAGES)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Thôn Bắc" in html and "thêm mới" in html
    assert db.session.scalar(select(Unit).where(Unit.code == "A3")) is None
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)
    done = admin.post("/admin/units/A/villages/confirm", data={"payload": payload})
    assert done.status_code == 302
    village = db.session.scalar(select(Unit).where(Unit.code == "A3"))
    assert village.parent_id == world.commune_a.id
    assert db.session.scalar(select(Unit).where(Unit.code == "A-01")).name == "Xóm Mới"
    assert entries(AuditAction.VILLAGES_IMPORTED)[0].detail.startswith("added 2")


def test_a_bad_villages_file_shows_its_errors_and_imports_nothing(world, login):
    before = db.session.scalar(select(func.count(Unit.id)))
    response = upload(login("admin"), b"code,name,kind\nA3,,thon\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Dòng 2" in html and "thiếu tên" in html
    assert 'name="payload"' not in html
    assert db.session.scalar(select(func.count(Unit.id))) == before


def test_a_forged_confirmation_is_refused(world, login):
    response = login("admin").post("/admin/units/A/villages/confirm", data={"payload": "x.y.z"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(Unit.id))) == 6


@pytest.mark.parametrize("name, code", [("police_a", "A"), ("admin", "A1"), ("admin", "ZZ")])
def test_villages_pages_out_of_reach_answer_404(world, login, name, code):
    assert upload(login(name), VILLAGES, code).status_code == 404


# --- signing in and out ------------------------------------------------------------------------


def test_logout_ends_every_copy_of_the_session_cookie(app, world, login):
    client = login("leader_a1")
    stolen = app.test_client()
    cookie = client.get_cookie("session")
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/staff/").status_code == 200
    assert client.post("/staff/logout").status_code == 302
    response = stolen.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.location


def test_sign_in_with_two_factor_takes_a_code_or_a_recovery_code_once(
    app, world, login, time_machine
):
    time_machine.move_to("2026-11-29 08:00:00+00:00", tick=False)
    client = login("police_a")
    page = client.get("/staff/tai-khoan/hai-buoc").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    done = client.post(
        "/staff/tai-khoan/hai-buoc", data={"secret": secret, "code": pyotp.TOTP(secret).now()}
    )
    recovery = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))

    # The code that turned two-factor on is spent: signing in takes the next one.
    time_machine.move_to("2026-11-29 08:00:30+00:00", tick=False)
    fresh, response = sign_in(app, "police_a", PASSWORD)
    assert response.location.endswith("/staff/tai-khoan/xac-thuc")
    blocked = fresh.get("/staff/")
    assert blocked.status_code == 302 and "/staff/login" in blocked.location  # not signed in yet
    wrong = fresh.post("/staff/tai-khoan/xac-thuc", data={"code": "000000"})
    assert wrong.status_code == 401
    ok = fresh.post("/staff/tai-khoan/xac-thuc", data={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302 and fresh.get("/staff/").status_code == 200

    other, _ = sign_in(app, "police_a", PASSWORD)
    assert other.post("/staff/tai-khoan/xac-thuc", data={"code": recovery[0]}).status_code == 302
    again, _ = sign_in(app, "police_a", PASSWORD)
    assert again.post("/staff/tai-khoan/xac-thuc", data={"code": recovery[0]}).status_code == 401


def test_wrong_passwords_pause_one_account_for_every_client(other_app, app, world):
    settings = settings_like(
        app,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        TIPLINE_LOGIN_LIMIT="100 per hour",
        TIPLINE_LOGIN_ACCOUNT_LIMIT="3 per hour",
    )
    strict = other_app(settings)
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        client = strict.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        _, response = sign_in_with(client, "Leader_A1", "wrong password")
        assert response.status_code == 401
    client = strict.test_client()
    _, response = sign_in_with(client, "leader_a1", PASSWORD)
    assert response.status_code == 429
    assert "sai mật khẩu nhiều lần" in response.get_data(as_text=True)
    # Other accounts are not affected.
    _, response = sign_in_with(strict.test_client(), "leader_a2", PASSWORD)
    assert response.status_code == 302


def sign_in_with(client, username: str, password: str):
    response = client.post("/staff/login", data={"username": username, "password": password})
    return client, response


# --- the identity access log ------------------------------------------------------------------


def test_commune_police_see_who_viewed_an_identity_in_their_commune(world, login, make_tip):
    from tipline.tips.models import IdentityTier

    tip = make_tip(
        world.a1, identity_tier=IdentityTier.CONFIDENTIAL, name="Người Báo", phone="0912345678"
    )
    other = make_tip(
        world.b1, identity_tier=IdentityTier.CONFIDENTIAL, name="Người Khác", phone="0912345679"
    )
    police_a, police_b = login("police_a"), login("police_b")
    assert police_a.post(f"/staff/tips/{tip.public_id}/identity").status_code == 200
    assert police_b.post(f"/staff/tips/{other.public_id}/identity").status_code == 200

    html = police_a.get("/admin/identity-log").get_data(as_text=True)
    assert tip.reference in html and "Xem danh tính" in html and "police_a" in html
    assert other.reference not in html
    assert "Người Báo" not in html  # the log names the tip, not the tipster
    assert login("admin").get("/admin/identity-log").status_code == 404


# --- categories ------------------------------------------------------------------------------


def test_administrators_add_and_tune_categories_that_set_new_tips_defaults(world, login, make_tip):
    from tipline.tips.models import Category, Priority

    admin = login("admin")
    added = admin.post(
        "/admin/categories",
        data={
            "code": "wildlife",
            "name": "Săn bắt động vật hoang dã",
            "name_en": "Wildlife poaching",
            "default_priority": "urgent",
            "response_days": "1",
            "settle_days": "15",
        },
    )
    assert added.status_code == 302
    category = db.session.scalar(select(Category).where(Category.code == "wildlife"))
    tip = make_tip(world.a1, category=category)
    assert tip.priority == Priority.URGENT
    assert (tip.settle_due_at - tip.submitted_at).days == 15

    edited = admin.post(
        "/admin/categories/wildlife",
        data={
            "code": "changed",
            "name": "Săn bắt trái phép",
            "default_priority": "",
            "settle_days": "30",
        },
    )
    assert edited.status_code == 302
    db.session.expire_all()
    assert category.code == "wildlife" and category.name == "Săn bắt trái phép"
    assert category.default_priority is None and category.settle_days == 30


def test_a_category_in_use_is_retired_not_deleted(world, login, make_tip, client):
    make_tip(world.a1, category=world.theft)
    admin = login("admin")
    assert admin.post("/admin/categories/theft/active").status_code == 302
    db.session.expire_all()
    assert world.theft.active is False
    assert "Trộm cắp tài sản" not in client.get("/gui-tin?xa=A").get_data(as_text=True)
    assert admin.post("/admin/categories/theft/active").status_code == 302
    db.session.expire_all()
    assert world.theft.active is True


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"code": "Có Dấu"}, "chữ thường không dấu"),
        ({"code": "theft"}, "Mã này đã có."),
        ({"settle_days": "0"}, "Number must be between"),
        ({"name": ""}, "Hãy nhập tên."),
    ],
)
def test_bad_categories_are_refused(world, login, fields, message):
    data = {"code": "newcat", "name": "Loại mới"} | fields
    response = login("admin").post("/admin/categories", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_a_refused_category_shows_the_list_in_the_order_of_the_list_page(world, login):
    admin = login("admin")
    assert admin.post("/admin/categories/theft/active").status_code == 302  # set aside

    def order(html: str) -> list[int]:
        return [html.index("Đánh nhau, gây rối trật tự"), html.index("Trộm cắp tài sản")]

    listed = admin.get("/admin/categories").get_data(as_text=True)
    refused = admin.post("/admin/categories", data={"code": "theft", "name": "Trùng mã"})
    assert refused.status_code == 422
    assert order(listed) == sorted(order(listed))  # in use first
    assert order(refused.get_data(as_text=True)) == sorted(order(refused.get_data(as_text=True)))


@pytest.mark.parametrize("name", ["police_a", "officer", "leader_a1"])
def test_only_administrators_of_the_root_manage_categories(world, login, name):
    assert login(name).get("/admin/categories").status_code == 404


@pytest.mark.parametrize("query", ["page=100000000000000000000", "page=-5", "page=x", "q=%25_%25"])
def test_odd_admin_queries_are_answered_not_crashed(world, login, query):
    admin = login("admin")
    for url in ("/admin/users", "/admin/audit"):
        assert admin.get(f"{url}?{query}").status_code == 200
    assert login("police_a").get(f"/admin/identity-log?{query}").status_code == 200


def test_user_search_treats_wildcards_as_text(world, login):
    html = login("police_a").get("/admin/users?q=_").get_data(as_text=True)
    assert 'href="/admin/users/member_a1"' in html  # "_" is in the name, as a character
    html = login("police_a").get("/admin/users?q=%25").get_data(as_text=True)
    assert "0 tài khoản trong phạm vi của bạn." in html
