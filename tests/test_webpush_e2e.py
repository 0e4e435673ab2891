"""Web Push end to end: a resident's tip → the outbox → the worker → the local push service.

The worker's pass runs in the test's transaction (its commits release savepoints); the
push service is test_webpush's local receiver, which decrypts what arrives.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from tipline.alerts.models import Delivery
from tipline.alerts.worker import run_pass
from tipline.extensions import db
from tipline.tips.models import Tip

from .test_public import DESCRIPTION, PLACE, post_tip, receipt_of, tip_form
from .test_webpush import receiver, subscribe_staff  # noqa: F401 (a fixture)


def test_a_new_tip_reaches_the_leaders_phone_and_a_reply_the_residents(
    app,
    client,
    world,
    login,
    receiver,  # noqa: F811
):
    leader = login("leader_a1")
    assert subscribe_staff(leader, receiver.subscription("ok")).status_code == 201
    other_village = login("leader_a2")
    assert subscribe_staff(other_village, receiver.subscription("ok")).status_code == 201

    reference, code = receipt_of(post_tip(client, tip_form()))
    resident = receiver.subscription("ok")
    opted = client.post(
        "/tra-cuu/push",
        json={"subscription": resident, "reference": reference, "code": code},
    )
    assert opted.status_code == 201, opted.get_data(as_text=True)

    run_pass(run_jobs=False)

    [staff_push] = receiver.wait_for(1)
    tip = db.session.scalar(select(Tip).where(Tip.reference == reference))
    assert staff_push.vapid_ok
    assert reference in staff_push.payload["title"]
    assert staff_push.payload["url"].endswith(f"/staff/tips/{tip.public_id}")
    assert staff_push.headers["topic"].startswith("tipline-n")
    text = json.dumps(staff_push.payload, ensure_ascii=False)
    assert DESCRIPTION not in text and PLACE not in text
    sent = db.session.scalars(select(Delivery).where(Delivery.channel == "webpush")).all()
    assert [d.state for d in sent] == ["sent"]  # the leader of another village got nothing

    question = leader.post(
        f"/staff/tips/{tip.public_id}/message",
        data={"body": "Anh/chị thấy lúc mấy giờ?", "kind": "question"},
    )
    assert question.status_code == 303
    run_pass(run_jobs=False)

    got = receiver.wait_for(2)
    resident_push = got[1]
    assert resident_push.payload["title"] == "Tin báo của bạn có cập nhật mới"
    assert resident_push.payload["url"].endswith("/tra-cuu")
    text = json.dumps(resident_push.payload, ensure_ascii=False)
    for secret in (reference, "mấy giờ", DESCRIPTION, PLACE):
        assert secret not in text
