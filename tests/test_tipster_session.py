"""The tipster's session ends on the server when they sign out (security review, item 15).

Signing out deletes the cookie and raises the tip's `tipster_session_version`, which every
token carries: a copy of the cookie kept elsewhere (another tab's request in flight, a
copied header, a second phone) is refused like an expired one from then on.
"""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from tipline.extensions import db
from tipline.public import tipster_session
from tipline.tips.models import Tip, TipMessage

from .test_messages import COOKIE, new_code, reply, sign_in, tipster_cookies


def token_of(response) -> str:
    return tipster_cookies(response)[0].split(";")[0].split("=", 1)[1]


def fresh_client(app, token: str):
    other = app.test_client()
    for path in ("/tra-cuu", "/en/tra-cuu"):
        other.set_cookie(COOKIE, token, path=path)
    return other


def test_a_copy_of_the_cookie_stops_working_once_the_tipster_signs_out(
    app, client, world, make_tip
):
    code = new_code()
    tip = make_tip(world.a1, follow_up_code=code)
    token = token_of(sign_in(client, tip.reference, code))
    copy = fresh_client(app, token)
    assert copy.get("/tra-cuu/tin").status_code == 200

    assert client.post("/tra-cuu/thoat").status_code == 200
    refused = copy.get("/tra-cuu/tin")
    assert refused.status_code == 401
    assert "Phiên tra cứu đã hết hạn" in refused.get_data(as_text=True)
    assert tip.reference not in refused.get_data(as_text=True)
    answer = reply(copy, "Tôi gửi thêm sau khi đã thoát.", kind="information")
    assert answer.status_code == 401
    assert db.session.scalar(select(TipMessage)) is None

    # The codes open a new session, which works; the old copy stays refused.
    sign_in(client, tip.reference, code)
    assert client.get("/tra-cuu/tin").status_code == 200
    assert copy.get("/tra-cuu/tin").status_code == 401


def test_one_sign_out_ends_the_other_open_sessions_of_the_same_tip(app, world, make_tip):
    code = new_code()
    tip = make_tip(world.a1, follow_up_code=code)
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, tip.reference, code)
    sign_in(laptop, tip.reference, code)
    phone.post("/tra-cuu/thoat")
    assert laptop.get("/tra-cuu/tin").status_code == 401
    # Another tip's session is untouched.
    other_code = new_code()
    other = make_tip(world.a1, follow_up_code=other_code)
    sign_in(laptop, other.reference, other_code)
    phone_again = app.test_client()
    sign_in(phone_again, tip.reference, code)
    phone_again.post("/tra-cuu/thoat")
    assert laptop.get("/tra-cuu/tin").status_code == 200


def test_sign_out_leaves_the_tips_row_version_alone(client, world, make_tip):
    """Staff holding the tip's page open must not get a stale-write 409 for it."""
    code = new_code()
    tip = make_tip(world.a1, follow_up_code=code)
    version, session_version = tip.version, tip.tipster_session_version
    sign_in(client, tip.reference, code)
    client.post("/tra-cuu/thoat")
    db.session.expire_all()
    tip = db.session.get(Tip, tip.id)
    assert tip.version == version
    assert tip.tipster_session_version == session_version + 1


def test_sign_out_without_a_session_changes_nothing(client, world, make_tip):
    tip = make_tip(world.a1)
    answer = client.post("/tra-cuu/thoat")
    assert answer.status_code == 200 and "Bạn đã thoát" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Tip, tip.id).tipster_session_version == 0


def test_tokens_of_another_shape_open_nothing(app, client, world, make_tip):
    tip = make_tip(world.a1)
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="tipster-session")
    for claims in (
        tip.public_id,  # the shape before versions: no longer accepted
        [tip.public_id],
        [tip.public_id, "0"],
        [tip.public_id, True],
        [tip.public_id, 1],  # a version the tip never had
        [tip.public_id, 0, 0],
        {"id": tip.public_id},
    ):
        client.set_cookie(COOKIE, signer.dumps(claims), path="/tra-cuu")
        assert client.get("/tra-cuu/tin").status_code == 401, claims
    client.set_cookie(COOKIE, signer.dumps([tip.public_id, 0]), path="/tra-cuu")
    assert client.get("/tra-cuu/tin").status_code == 200


def test_the_session_lives_in_its_own_module(app):
    """Issue 18: the session code moved out of tips/messages.py."""
    import tipline.tips.messages as messages

    for name in ("SessionEnded", "session_token", "tip_for_session", "session_minutes"):
        assert hasattr(tipster_session, name)
        assert not hasattr(messages, name), name
