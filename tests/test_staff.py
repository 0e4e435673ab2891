"""Staff pages through the app: login, scope, the tip page, actions, identity, photos."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.tips import workflow
from tipline.tips.models import IdentityAccess, IdentityTier, Tip, TipStatus
from tipline.tips.services import store_photo
from tipline.tips.workflow import Action

from .conftest import PASSWORD


def tip_page(client, tip):
    return client.get(f"/staff/tips/{tip.public_id}")


def test_login_page_and_wrong_password(client, world):
    assert client.get("/staff/login").status_code == 200
    response = client.post("/staff/login", data={"username": "leader_a1", "password": "nope"})
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)
    response = client.post("/staff/login", data={"username": "nobody", "password": "nope"})
    assert response.status_code == 401


def test_inactive_account_cannot_log_in(client, world):
    world.user("leader_a1").active = False
    db.session.commit()
    response = client.post("/staff/login", data={"username": "leader_a1", "password": PASSWORD})
    assert response.status_code == 401


def test_staff_pages_need_login(client, world, make_tip):
    tip = make_tip(world.a1)
    for url in ("/staff/", f"/staff/tips/{tip.public_id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]


def test_login_redirect_ignores_other_sites(client, world):
    response = client.post(
        "/staff/login",
        data={"username": "leader_a1", "password": PASSWORD, "next": "//evil.example/x"},
    )
    # The leader's own start page, not the other site.
    assert response.headers["Location"] == "/staff/thon-cua-toi"


def test_logout_ends_the_session(login, world):
    client = login("leader_a1")
    assert client.get("/staff/").status_code == 200
    client.post("/staff/logout")
    assert client.get("/staff/").status_code == 302


def test_inbox_lists_only_tips_in_scope_newest_first(login, world, make_tip):
    from datetime import datetime

    older = make_tip(world.a1, now=datetime(2026, 1, 1, 8, 0))
    newer = make_tip(world.a1, now=datetime(2026, 2, 1, 8, 0))
    other_village = make_tip(world.a2)
    other_commune = make_tip(world.b1)
    html = login("leader_a1").get("/staff/?sort=newest").get_data(as_text=True)
    assert older.reference in html and newer.reference in html
    assert html.index(newer.reference) < html.index(older.reference)
    assert other_village.reference not in html
    assert other_commune.reference not in html


def test_inbox_filters_by_status(login, world, make_tip):
    triaged = make_tip(world.a1)
    fresh = make_tip(world.a1)
    workflow.transition(triaged, Action.TRIAGE, world.user("leader_a1"))
    db.session.commit()
    html = login("leader_a1").get("/staff/?status=triaged").get_data(as_text=True)
    assert triaged.reference in html and fresh.reference not in html


def test_inbox_rejects_unknown_status_filter(login, world):
    assert login("leader_a1").get("/staff/?status=bogus").status_code == 400


@pytest.mark.parametrize(
    ("user", "village", "visible"),
    [
        ("member_a1", "a1", True),
        ("leader_a1", "a1", True),
        ("leader_a1", "a2", False),
        ("leader_a2", "a1", False),
        ("police_a", "a1", True),
        ("police_a", "a2", True),
        ("police_a", "b1", False),
        ("committee_a", "a2", True),
        ("officer", "b1", True),
        ("admin", "a1", False),
        ("leader_b1", "a1", False),
        ("police_b", "a1", False),
    ],
)
def test_tip_page_scope(login, world, make_tip, user, village, visible):
    tip = make_tip(getattr(world, village))
    response = tip_page(login(user), tip)
    assert response.status_code == (200 if visible else 404)


def test_out_of_scope_answers_exactly_like_a_missing_tip(login, world, make_tip):
    tip = make_tip(world.a2)
    client = login("leader_a1")
    hidden = tip_page(client, tip)
    missing = client.get("/staff/tips/doesNotExist123")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_data() == missing.get_data()


def test_leader_cannot_act_on_another_villages_tip(login, world, make_tip):
    tip = make_tip(world.a2)
    response = login("leader_a1").post(
        f"/staff/tips/{tip.public_id}/act", data={"action": "triage", "version": tip.version}
    )
    assert response.status_code == 404
    db.session.refresh(tip)
    assert tip.status == TipStatus.RECEIVED


def test_tip_page_offers_exactly_the_allowed_actions(login, world, make_tip):
    tip = make_tip(world.a1)
    member_html = tip_page(login("member_a1"), tip).get_data(as_text=True)
    assert 'value="triage"' in member_html
    assert 'value="reject"' not in member_html
    officer_html = tip_page(login("officer"), tip).get_data(as_text=True)
    assert 'name="action"' not in officer_html


def test_leader_triages_verifies_and_settles_through_the_pages(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("leader_a1")
    for action, extra in [
        ("triage", {}),
        ("start_verification", {}),
        ("verify", {}),
        (
            "resolve",
            {"outcome": "mediated", "note": "Hai bên đã hòa giải.", "note_to_tipster": "y"},
        ),
    ]:
        db.session.refresh(tip)
        response = client.post(
            f"/staff/tips/{tip.public_id}/act",
            data={"action": action, "version": tip.version, **extra},
        )
        assert response.status_code == 303, response.get_data(as_text=True)
    db.session.refresh(tip)
    assert tip.status == TipStatus.RESOLVED
    html = tip_page(client, tip).get_data(as_text=True)
    assert "Hai bên đã hòa giải." in html


def test_illegal_action_through_the_page_is_refused_with_a_message(login, world, make_tip):
    tip = make_tip(world.a1)
    response = login("leader_a1").post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "resolve", "version": tip.version, "outcome": "mediated"},
    )
    assert response.status_code == 409
    assert "Không thể" in response.get_data(as_text=True)


def test_police_outcome_refused_to_leader_through_the_page(login, world, make_tip):
    tip = make_tip(world.a1)
    police = world.user("police_a")
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(tip, action, police)
    db.session.commit()
    response = login("leader_a1").post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "resolve", "version": tip.version, "outcome": "criminal_referral"},
    )
    assert response.status_code == 403
    assert "thuộc thẩm quyền Công an xã" in response.get_data(as_text=True)


def test_stale_page_is_told_the_tip_changed(login, world, make_tip):
    tip = make_tip(world.a1)
    stale_version = tip.version
    workflow.transition(tip, Action.TRIAGE, world.user("police_a"))
    db.session.commit()
    response = login("leader_a1").post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "reject", "version": stale_version, "reason": "spam"},
    )
    assert response.status_code == 409
    assert "vừa được người khác thay đổi" in response.get_data(as_text=True)
    db.session.refresh(tip)
    assert tip.status == TipStatus.TRIAGED


def test_unknown_action_or_garbage_is_a_400_not_a_500(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("leader_a1")
    for data in (
        {"action": "explode", "version": tip.version},
        {"action": "triage", "version": "abc"},
        {"action": "triage"},
        {},
    ):
        response = client.post(f"/staff/tips/{tip.public_id}/act", data=data)
        assert response.status_code == 400, data


def test_notes_internal_and_to_tipster(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("member_a1")
    response = client.post(f"/staff/tips/{tip.public_id}/note", data={"body": "Đã đến xem."})
    assert response.status_code == 303
    # A team member may not write to the tipster.
    response = client.post(
        f"/staff/tips/{tip.public_id}/note", data={"body": "Xin chào", "to_tipster": "y"}
    )
    assert response.status_code == 403
    response = client.post(f"/staff/tips/{tip.public_id}/note", data={"body": "   "})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("tier", "user", "allowed"),
    [
        (IdentityTier.ANONYMOUS, "police_a", False),
        (IdentityTier.CONFIDENTIAL, "police_a", True),
        (IdentityTier.CONFIDENTIAL, "leader_a1", False),
        (IdentityTier.CONFIDENTIAL, "committee_a", False),
        (IdentityTier.CONFIDENTIAL, "officer", False),
        (IdentityTier.NAMED, "leader_a1", True),
        (IdentityTier.NAMED, "member_a1", True),
        (IdentityTier.NAMED, "police_a", True),
        (IdentityTier.NAMED, "officer", False),
        (IdentityTier.NAMED, "committee_a", False),
    ],
)
def test_identity_visibility_by_tier_and_role(login, world, make_tip, tier, user, allowed):
    contact = (
        {} if tier == IdentityTier.ANONYMOUS else {"name": "Nguyễn Văn Nam", "phone": "0912345678"}
    )
    tip = make_tip(world.a1, identity_tier=tier, **contact)
    client = login(user)
    page = tip_page(client, tip).get_data(as_text=True)
    assert "Nguyễn Văn Nam" not in page  # never on the page itself
    assert (f"/staff/tips/{tip.public_id}/identity" in page) == allowed
    response = client.post(f"/staff/tips/{tip.public_id}/identity")
    assert response.status_code == (200 if allowed else 403)
    logged = db.session.scalar(select(func.count(IdentityAccess.id)))
    if allowed:
        assert "Nguyễn Văn Nam" in response.get_data(as_text=True)
        assert logged == 1
    else:
        assert "Nguyễn Văn Nam" not in response.get_data(as_text=True)
        assert logged == 0


def test_named_identity_hidden_from_village_team_once_escalated(login, world, make_tip):
    tip = make_tip(
        world.a1, identity_tier=IdentityTier.NAMED, name="Lê Thị Hoa", phone="0987654321"
    )
    workflow.transition(tip, Action.ESCALATE, world.user("leader_a1"))
    db.session.commit()
    assert login("leader_a1").post(f"/staff/tips/{tip.public_id}/identity").status_code == 403


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def _tip_with_photo(make_tip, unit):
    stored = store_photo(process_photo(_jpeg_bytes()))
    return make_tip(unit, photos=[stored])


@pytest.mark.parametrize(("user", "status"), [("leader_a1", 200), ("leader_a2", 404)])
def test_photos_are_served_only_to_staff_in_scope(login, world, make_tip, user, status):
    tip = _tip_with_photo(make_tip, world.a1)
    photo = tip.photos[0]
    client = login(user)
    for size in ("full", "thumb"):
        response = client.get(f"/staff/photos/{photo.public_id}/{size}")
        assert response.status_code == status
        if status == 200:
            assert response.mimetype == "image/jpeg"
            assert response.headers["Cache-Control"].startswith("no-store")
            assert response.data[:3] == b"\xff\xd8\xff"
        response.close()


def test_photos_need_login(client, world, make_tip):
    tip = _tip_with_photo(make_tip, world.a1)
    response = client.get(f"/staff/photos/{tip.photos[0].public_id}/full")
    assert response.status_code == 302


def test_public_ids_are_random_and_not_sequential(world, make_tip):
    tips = [make_tip(world.a1) for _ in range(5)]
    ids = [t.public_id for t in tips]
    refs = [t.reference for t in tips]
    assert len(set(ids)) == 5 and all(len(i) >= 16 for i in ids)
    assert all(re.fullmatch(r"TL-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", r) for r in refs)
    assert not any(str(t.id) == t.public_id for t in tips)


def test_csrf_is_required_on_staff_forms(app, world, make_tip):
    tip = make_tip(world.a1)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        response = client.post("/staff/login", data={"username": "leader_a1", "password": PASSWORD})
        assert response.status_code == 400
        assert "biểu mẫu không hợp lệ" in response.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.get(Tip, tip.id).status == TipStatus.RECEIVED


def test_prune_removes_only_old_orphan_photos(app, runner, world, make_tip):
    import os
    import time

    from tipline.media.storage import photo_path

    tip = _tip_with_photo(make_tip, world.a1)
    orphan = store_photo(process_photo(_jpeg_bytes()))
    fresh_orphan = store_photo(process_photo(_jpeg_bytes()))
    upload = app.config["UPLOAD_DIR"]
    old = time.time() - 72 * 3600
    for name in (orphan.filename, orphan.thumb_filename, tip.photos[0].filename):
        os.utime(photo_path(upload, name), (old, old))
    result = runner.invoke(args=["tipline", "photos", "prune"])
    assert result.exit_code == 0, result.output
    assert "Removed 2" in result.output
    assert not photo_path(upload, orphan.filename).exists()
    assert photo_path(upload, fresh_orphan.filename).exists()
    assert photo_path(upload, tip.photos[0].filename).exists()


def test_a_zero_is_not_a_ticked_box_and_a_hand_over_redirects_like_any_action(
    world, make_tip, login
):
    tip = make_tip(world.a1)
    leader = login("leader_a1")
    response = leader.post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "escalate", "version": "1", "conflict_of_interest": "0"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert not tip.hidden_from_village  # "0" did not tick the box
    handed = make_tip(world.a1)
    response = leader.post(
        f"/staff/tips/{handed.public_id}/act",
        data={"action": "escalate", "version": "1", "conflict_of_interest": "y"},
    )
    assert response.status_code == 303 and response.location.endswith("/staff/")
