"""An anonymous tipster reveals their identity later: the tip becomes confidential (issue 5)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from tipline.accounts.permissions import can_see_identity
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import EventKind, IdentityTier, RejectReason, Tip, TipCount
from tipline.tips.services import ALPHABET, public_timeline
from tipline.tips.workflow import Action, WorkflowError


@pytest.fixture
def anonymous(world, make_tip):
    code = "".join(secrets.choice(ALPHABET) for _ in range(16))
    tip = make_tip(world.a1, follow_up_code=code)
    return tip, tip.reference, code


def sign_in(client, reference, code):
    response = client.post("/tra-cuu", data={"reference": reference, "code": code})
    assert response.status_code == 200
    return response


def counters() -> list[tuple]:
    return sorted(
        db.session.execute(
            select(
                TipCount.unit_id,
                TipCount.category_id,
                TipCount.day,
                TipCount.metric,
                TipCount.count,
            )
        ).all()
    )


def fresh(tip) -> Tip:
    db.session.expire_all()
    return db.session.get(Tip, tip.id)


def test_anonymous_tipster_reveals_and_the_tip_becomes_confidential(client, anonymous, login):
    tip, reference, code = anonymous
    html = sign_in(client, reference, code).get_data(as_text=True)
    assert 'action="/tra-cuu/danh-tinh"' in html
    before_counters, before_timeline = counters(), public_timeline(tip)

    response = client.post(
        "/tra-cuu/danh-tinh", data={"name": " Phạm Thị Lan ", "phone": "0912 345.678"}
    )
    assert response.status_code == 303 and response.location.endswith("da-gui=identity")
    page = client.get(response.location).get_data(as_text=True)
    assert "Đã ghi nhận danh tính của bạn." in page
    # The status page never echoes the identity back.
    assert "Phạm Thị Lan" not in page and "0912345678" not in page
    assert 'action="/tra-cuu/danh-tinh"' not in page  # no second reveal

    tip = fresh(tip)
    assert tip.identity_tier == IdentityTier.CONFIDENTIAL
    assert (tip.contact.name, tip.contact.phone) == ("Phạm Thị Lan", "0912345678")
    event = tip.events[-1]
    assert event.kind == EventKind.IDENTITY_REVEALED
    assert not event.public and event.note is None and event.actor is None
    assert public_timeline(tip) == before_timeline
    assert counters() == before_counters

    # Confidential: the village team never sees it; commune police can, and it is logged.
    leader_page = login("leader_a1").get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert "Phạm Thị Lan" not in leader_page and "Xem danh tính" not in leader_page
    police = login("police_a")
    assert "Xem danh tính" in police.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    shown = police.post(f"/staff/tips/{tip.public_id}/identity")
    assert shown.status_code == 200 and "Phạm Thị Lan" in shown.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "phone": "0912345678"}, "Hãy ghi họ tên."),
        ({"name": "Lan", "phone": ""}, "Hãy ghi số điện thoại."),
        ({"name": "Lan", "phone": "12345"}, "Số điện thoại không đúng (ví dụ: 0912 345 678)."),
        ({"name": "L" * 121, "phone": "0912345678"}, "Tối đa 120 ký tự."),
    ],
)
def test_reveal_is_validated_like_the_submit_form(client, anonymous, data, message):
    tip, reference, code = anonymous
    sign_in(client, reference, code)
    response = client.post("/tra-cuu/danh-tinh", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert fresh(tip).identity_tier == IdentityTier.ANONYMOUS


def test_an_identified_tip_cannot_be_revealed_again(client, world, make_tip):
    code = "".join(secrets.choice(ALPHABET) for _ in range(16))
    tip = make_tip(
        world.a1,
        follow_up_code=code,
        identity_tier=IdentityTier.NAMED,
        name="Ngô Văn Có Tên",
        phone="0987654321",
    )
    html = sign_in(client, tip.reference, code).get_data(as_text=True)
    assert 'action="/tra-cuu/danh-tinh"' not in html
    response = client.post("/tra-cuu/danh-tinh", data={"name": "Khác", "phone": "0912345678"})
    assert response.status_code == 409
    tip = fresh(tip)
    assert tip.identity_tier == IdentityTier.NAMED and tip.contact.name == "Ngô Văn Có Tên"


def test_reveal_needs_the_session(client, anonymous):
    tip, *_ = anonymous
    response = client.post("/tra-cuu/danh-tinh", data={"name": "Lan", "phone": "0912345678"})
    assert response.status_code == 401
    assert fresh(tip).identity_tier == IdentityTier.ANONYMOUS


def test_reveal_in_the_workflow_never_names_the_tip(world, make_tip):
    tip = make_tip(world.a1)
    workflow.reveal_identity(tip, "Lan", "0912345678")
    assert tip.identity_tier == IdentityTier.CONFIDENTIAL
    assert not can_see_identity(tip, world.user("leader_a1"))
    assert not can_see_identity(tip, world.user("member_a1"))
    assert not can_see_identity(tip, world.user("officer"))
    assert can_see_identity(tip, world.user("police_a"))
    with pytest.raises(WorkflowError):
        workflow.reveal_identity(tip, "Lan", "0912345678")


def test_reveal_on_a_long_closed_tip_is_refused(app, world, make_tip, time_machine):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
    time_machine.move_to(start, tick=False)
    tip = make_tip(world.a1)
    leader = world.user("leader_a1")
    workflow.transition(tip, Action.REJECT, leader, reason=RejectReason.SPAM)
    db.session.commit()
    days = app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    time_machine.move_to(start + timedelta(days=days + 1), tick=False)
    with pytest.raises(WorkflowError):
        workflow.reveal_identity(tip, "Lan", "0912345678")
