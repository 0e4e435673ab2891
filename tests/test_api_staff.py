"""The staff JSON API: tokens, the inbox's scope, the workflow's rules, no identity."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from tipline.accounts.services import change_password, set_active
from tipline.api.models import ApiUse, StaffToken
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.models import IdentityTier, Tip, TipStatus

from .conftest import PASSWORD, settings_like


def _token(client, username: str, **extra) -> str:
    response = client.post(
        "/api/v1/tokens", json={"username": username, "password": PASSWORD, **extra}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["token_type"] == "Bearer"
    return response.get_json()["token"]


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client, world):
    """api(username) -> headers with a fresh token of that account."""
    return lambda username: _auth(_token(client, username))


def test_wrong_password_gets_no_token(client, world):
    response = client.post("/api/v1/tokens", json={"username": "police_a", "password": "nope"})
    assert response.status_code == 401
    assert "mật khẩu" in response.get_json()["error"]
    assert client.post("/api/v1/tokens", data="not json").status_code == 400
    assert client.post("/api/v1/tokens", json=["police_a"]).status_code == 400
    assert db.session.scalar(select(StaffToken)) is None


def test_only_a_hash_of_the_token_is_kept(client, world):
    token = _token(client, "police_a")
    stored = db.session.scalar(select(StaffToken))
    assert token not in (stored.secret_hash, stored.prefix) and len(stored.secret_hash) == 64


def test_session_cookies_do_not_authenticate_the_api(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("police_a")
    assert client.get("/staff/").status_code == 200  # the cookie works on the web
    assert client.get("/api/v1/tips").status_code == 401
    assert client.get(f"/api/v1/tips/{tip.public_id}").status_code == 401
    acted = client.post(f"/api/v1/tips/{tip.public_id}/actions", json={"action": "triage"})
    assert acted.status_code == 401
    assert acted.headers["WWW-Authenticate"].startswith("Bearer")
    assert db.session.get(Tip, tip.id).status == TipStatus.RECEIVED


def test_a_session_cookie_never_redirects_or_refreshes_an_api_request(login, world):
    """The web's account checks (forced password change, idle timer) leave the API alone."""
    client = login("police_a")
    world.user("police_a").must_change_password = True
    db.session.commit()
    assert client.get("/staff/").status_code == 302  # the web sends them to change it
    with client.session_transaction() as before:
        seen = dict(before)
    answer = client.get("/api/v1/tips")
    assert answer.status_code == 401 and answer.is_json
    with client.session_transaction() as after:
        assert dict(after) == seen


def test_two_factor_accounts_need_their_code(client, world):
    user = world.user("police_a")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    db.session.commit()
    without = client.post("/api/v1/tokens", json={"username": "police_a", "password": PASSWORD})
    assert without.status_code == 401
    wrong = client.post(
        "/api/v1/tokens", json={"username": "police_a", "password": PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 401
    _token(client, "police_a", code=pyotp.TOTP(secret).now())


def test_a_password_that_must_change_gets_no_token(client, world):
    world.user("police_a").must_change_password = True
    db.session.commit()
    response = client.post("/api/v1/tokens", json={"username": "police_a", "password": PASSWORD})
    assert response.status_code == 403


def test_tokens_end_with_password_change_deactivation_expiry_and_revocation(client, world):
    changed = _token(client, "police_a")
    assert client.get("/api/v1/tips", headers=_auth(changed)).status_code == 200
    assert change_password(world.user("police_a"), PASSWORD, "a new long passphrase 42") == []
    db.session.commit()
    assert client.get("/api/v1/tips", headers=_auth(changed)).status_code == 401

    deactivated = _token(client, "leader_a1")
    set_active(world.user("police_a"), world.user("leader_a1"), False)
    db.session.commit()
    assert client.get("/api/v1/tips", headers=_auth(deactivated)).status_code == 401

    expiring = _token(client, "member_a1")
    with time_machine.travel(utcnow() + timedelta(hours=13), tick=False):
        assert client.get("/api/v1/tips", headers=_auth(expiring)).status_code == 401

    revoked = _token(client, "committee_a")
    assert client.delete("/api/v1/tokens", headers=_auth(revoked)).status_code == 204
    assert client.get("/api/v1/tips", headers=_auth(revoked)).status_code == 401
    assert client.get("/api/v1/tips", headers=_auth("tls_000000000000_x")).status_code == 401


def test_the_list_is_the_inbox_scope(client, world, make_tip, api):
    a1 = make_tip(world.a1)
    b1 = make_tip(world.b1)
    listed = client.get("/api/v1/tips", headers=api("leader_a1")).get_json()
    assert [t["reference"] for t in listed["tips"]] == [a1.reference]
    assert listed["page"] == 1 and listed["has_next"] is False
    officer = client.get("/api/v1/tips?sort=newest", headers=api("officer")).get_json()
    assert {t["reference"] for t in officer["tips"]} == {a1.reference, b1.reference}
    police = api("police_a")
    assert client.get("/api/v1/tips?unit=B", headers=police).get_json()["tips"] == []
    assert client.get("/api/v1/tips?status=received", headers=police).status_code == 200
    for bad in ("status=nope", "page=0", "page=x", "sort=up", "open=2", "category=zz", "unit=ZZ"):
        response = client.get(f"/api/v1/tips?{bad}", headers=police)
        assert response.status_code == 400, bad
        assert response.get_json()["error"]


def test_the_list_has_the_inbox_unread_replies_filter(client, world, make_tip, api, login):
    quiet = make_tip(world.a1, now=utcnow() - timedelta(hours=3))
    replied = make_tip(world.a1, now=utcnow() - timedelta(hours=3))
    headers = api("leader_a1")
    for tip in (quiet, replied):
        client.get(f"/api/v1/tips/{tip.public_id}", headers=headers)
    # A tipster's reply moves activity_at on (as in the inbox's test of the same filter).
    db.session.get(Tip, replied.id).activity_at = utcnow() + timedelta(seconds=1)
    db.session.commit()
    listed = client.get("/api/v1/tips?replies=1", headers=headers).get_json()["tips"]
    assert [t["reference"] for t in listed] == [replied.reference]
    web = login("leader_a1").get("/staff/?replies=1").get_data(as_text=True)
    assert replied.reference in web and quiet.reference not in web
    assert client.get("/api/v1/tips?replies=2", headers=headers).status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        "status=lost",
        "priority=very",
        "category=nope",
        "unit=ZZ",
        "sort=up",
        "mine=yes",
        "replies=2",
        "page=0",
        "page=²",
        "category=" + "x" * 41,
    ],
)
def test_a_bad_filter_gets_the_same_message_on_the_web_and_in_the_api(
    client, world, api, login, bad
):
    answer = client.get(f"/api/v1/tips?{bad}", headers=api("leader_a1"))
    page = login("leader_a1").get(f"/staff/?{bad}")
    assert answer.status_code == page.status_code == 400
    message = answer.get_json()["error"]
    assert message.endswith("không hợp lệ.")
    assert f"<p>{message}</p>" in page.get_data(as_text=True)


def test_a_tip_out_of_scope_is_missing(client, world, make_tip, api):
    tip = make_tip(world.a1)
    headers = api("leader_b1")
    outside = client.get(f"/api/v1/tips/{tip.public_id}", headers=headers)
    missing = client.get("/api/v1/tips/AAAAAAAAAAAAAAAA", headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert outside.get_json() == missing.get_json()


def test_the_identity_is_never_in_the_api(client, world, make_tip, api):
    tip = make_tip(
        world.a1,
        identity_tier=IdentityTier.CONFIDENTIAL,
        name="Nguyễn Văn Bí Mật",
        phone="0912345678",
    )
    response = client.get(f"/api/v1/tips/{tip.public_id}", headers=api("police_a"))
    detail = response.get_json()["tip"]
    assert detail["identity_tier"] == "confidential"
    assert detail["description"].startswith("Mất trộm")
    text = response.get_data(as_text=True)
    assert "Bí Mật" not in text and "0912345678" not in text


def test_actions_go_through_the_workflow_with_a_version(client, world, make_tip, api):
    tip = make_tip(world.a1)
    url = f"/api/v1/tips/{tip.public_id}/actions"
    police = api("police_a")
    done = client.post(url, headers=police, json={"action": "triage", "version": 1})
    assert done.status_code == 200
    detail = done.get_json()["tip"]
    assert detail["status"] == "triaged" and detail["version"] == 2
    stale = client.post(url, headers=police, json={"action": "start_verification", "version": 1})
    assert stale.status_code == 409
    assert "thay đổi" in stale.get_json()["error"]
    member = client.post(url, headers=api("member_a1"), json={"action": "reject", "version": 2})
    assert member.status_code == 403
    wrong_state = client.post(url, headers=police, json={"action": "resolve", "version": 2})
    assert wrong_state.status_code == 409
    note = client.post(
        url, headers=police, json={"action": "note", "version": 2, "note": "Đã gọi trưởng thôn"}
    )
    assert note.status_code == 200
    assert note.get_json()["tip"]["events"][-1]["note"] == "Đã gọi trưởng thôn"
    reject = client.post(
        url, headers=police, json={"action": "reject", "version": 2, "reason": "spam"}
    )
    assert reject.status_code == 200 and reject.get_json()["tip"]["status"] == "rejected"
    assert db.session.get(Tip, tip.id).status == TipStatus.REJECTED


@pytest.mark.parametrize(
    "body",
    [
        {"action": "fly", "version": 1},
        {"action": "triage"},
        {"action": "triage", "version": "1"},
        {"action": "triage", "version": True},
        {"action": "resolve", "version": 1, "outcome": "jail"},
        {"action": "escalate", "version": 1, "conflict_of_interest": "yes"},
        {"action": "triage", "version": 1, "note": 42},
        {"version": 1},
    ],
)
def test_bad_action_bodies_are_400(client, world, make_tip, api, body):
    tip = make_tip(world.a1)
    response = client.post(
        f"/api/v1/tips/{tip.public_id}/actions", headers=api("police_a"), json=body
    )
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_a_hand_over_that_hides_the_tip_answers_null(client, world, make_tip, api):
    tip = make_tip(world.a1)
    response = client.post(
        f"/api/v1/tips/{tip.public_id}/actions",
        headers=api("leader_a1"),
        json={"action": "escalate", "version": 1, "conflict_of_interest": True},
    )
    assert response.status_code == 200 and response.get_json() == {"tip": None}


def test_every_use_of_a_token_is_logged(client, world, make_tip, api):
    tip = make_tip(world.a1)
    headers = api("police_a")
    client.get(f"/api/v1/tips/{tip.public_id}", headers=headers)
    client.get("/api/v1/tips", headers=headers)
    uses = db.session.scalars(select(ApiUse).order_by(ApiUse.id)).all()
    assert [(u.method, u.endpoint, u.status, u.tip_reference) for u in uses] == [
        ("POST", "/api/v1/tokens", 201, None),
        ("GET", "/api/v1/tips/{public_id}", 200, tip.reference),
        ("GET", "/api/v1/tips", 200, None),
    ]
    assert all(u.staff_token_id is not None and u.partner_key_id is None for u in uses)


def test_each_token_has_its_own_rate_limit(app, world, other_app):
    limited = other_app(
        settings_like(app, RATELIMIT_ENABLED=True, TIPLINE_API_TOKEN_LIMIT="2 per hour")
    )
    client = limited.test_client()
    headers = _auth(_token(client, "police_a"))
    answers = [client.get("/api/v1/tips", headers=headers).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert client.get("/api/v1/tips", headers=_auth(_token(client, "police_b"))).status_code == 200
