"""Whatever a resident sends, the answer is never a 500 and nothing half-written remains."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipline.tips import counts

FIELDS = [
    "submission_key", "village", "category", "description", "place", "occurred_on",
    "occurred_time", "latitude", "longitude", "identity_tier", "name", "phone", "photo_token",
]  # fmt: skip
values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", "nan", "inf", "-1e999", "A1", "theft", "named", "2999-01-01", "25:61"]),
    st.text(alphabet="0123456789.-+eE", max_size=12),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    data=st.dictionaries(st.sampled_from(FIELDS), values), commune=st.sampled_from(["A", "Z", ""])
)
def test_random_submissions_never_fail(client, world, data, commune):
    response = client.post(f"/gui-tin?xa={commune}", data=data)
    assert response.status_code in (200, 302, 422), response.status_code
    assert counts.differences() == {}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(reference=st.text(max_size=50), code=st.text(max_size=70))
def test_random_follow_ups_never_fail(client, world, reference, code):
    response = client.post("/tra-cuu", data={"reference": reference, "code": code})
    assert response.status_code == 422


def test_control_characters_are_refused_or_cleaned_not_a_500(client, world):
    from tipline.tips.services import new_submission_key

    for text in ("Mất trộm xe máy\x00 ở đầu ngõ.", "Mất trộm\x07 xe máy ở đầu ngõ."):
        data = {
            "submission_key": new_submission_key(),
            "village": "A1",
            "category": "theft",
            "description": text,
            "place": "Chợ\x00",
            "identity_tier": "anonymous",
        }
        response = client.post("/gui-tin?xa=A", data=data)
        assert response.status_code in (200, 422)
    assert counts.differences() == {}


def test_staff_note_with_control_characters_is_stored_clean(login, world, make_tip):
    from sqlalchemy import select

    from tipline.extensions import db
    from tipline.tips.models import Note

    tip = make_tip(world.a1)
    client = login("leader_a1")
    response = client.post(f"/staff/tips/{tip.public_id}/note", data={"body": "Đã\x00 xác\r\nminh"})
    assert response.status_code == 303
    assert db.session.scalar(select(Note.body)) == "Đã xác\nminh"
