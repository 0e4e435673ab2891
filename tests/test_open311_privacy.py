"""Open311 without a reading key: no list of tips, and a reference learns only state and days.

Commune, category and minute of every tip would undo the public figures' "< 3": most
(commune, category) cells hold a single tip (security review, issue 15, item 1).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405  # nosec B405 - our own answers
from datetime import datetime

import pytest

from tipline.api.keys import create_partner_key
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import Outcome

BASE = "/open311/v2"
TIPSTER_FIELDS = {
    "service_request_id",
    "status",
    "service_name",
    "service_code",
    "requested_datetime",
    "updated_datetime",
}
# 18:37 UTC on 4 March is 01:37 on 5 March in Vietnam: the day is the local one.
LATE_EVENING_UTC = datetime(2026, 3, 4, 18, 37)


@pytest.fixture
def key(world):
    """key(**permissions) -> the secret of a commune A key (read permission by default)."""

    def make(**permissions):
        options = {"may_submit": True, "may_read": True, "may_name": False} | permissions
        _key, secret = create_partner_key(
            world.user("admin"), name="Đối tác", unit=world.commune_a, **options
        )
        db.session.commit()
        return {"X-Api-Key": secret}

    return make


def _xml(response) -> ET.Element:
    return ET.fromstring(response.data)  # noqa: S314  # nosec B314


@pytest.mark.parametrize("query", ["", "?start_date=2000-01-01T00:00:00Z", "?status=open"])
def test_the_list_without_a_key_is_refused_in_the_spec_error_shape(client, world, make_tip, query):
    tip = make_tip(world.a1)
    response = client.get(f"{BASE}/requests.json{query}")
    assert response.status_code == 403
    (error,) = response.get_json()
    assert error["code"] == 403
    assert "khóa API" in error["description"] and "/so-lieu" in error["description"]
    xml = client.get(f"{BASE}/requests.xml{query}")
    assert xml.status_code == 403 and xml.mimetype == "text/xml"
    root = _xml(xml)
    assert root.tag == "errors" and root.findtext("error/code") == "403"
    assert "/so-lieu" in root.findtext("error/description")
    for answer in (response, xml):
        text = answer.get_data(as_text=True)
        assert tip.reference not in text and "An Bình" not in text


def test_the_list_by_reference_is_refused_too_without_a_key(client, world, make_tip):
    tip = make_tip(world.a1)
    response = client.get(f"{BASE}/requests.json?service_request_id={tip.reference}")
    assert response.status_code == 403


def test_a_key_without_the_read_permission_cannot_list(client, world, make_tip, key):
    make_tip(world.a1)
    response = client.get(f"{BASE}/requests.json", headers=key(may_read=False))
    assert response.status_code == 403
    assert response.get_json()[0]["code"] == 403


def test_a_reading_key_lists_only_its_own_area_with_state_and_minute(client, world, make_tip, key):
    """Other communes' tips are not listed: their (commune, category, minute) cells are
    exactly what the public figures hide."""
    elsewhere = make_tip(world.b1, now=LATE_EVENING_UTC)
    tip = make_tip(world.a1, now=LATE_EVENING_UTC)
    response = client.get(f"{BASE}/requests.json?start_date=2026-01-01T00:00:00Z", headers=key())
    assert response.status_code == 200
    (record,) = response.get_json()
    assert record["service_request_id"] == tip.reference != elsewhere.reference
    assert record["agency_responsible"] == "Xã An Bình" and record["commune_code"] == "A"
    assert record["status_notes"] == "Mới tiếp nhận"
    assert record["requested_datetime"] == "2026-03-05T01:37:00+07:00"


def test_a_reference_alone_answers_only_state_category_and_days(client, world, make_tip, key):
    tip = make_tip(
        world.a1,
        now=LATE_EVENING_UTC,
        latitude=19.8,
        longitude=105.7,
        place="Nhà văn hóa thôn Đông",
    )
    for headers in ({}, key(may_read=False)):
        response = client.get(f"{BASE}/requests/{tip.reference}.json", headers=headers)
        assert response.status_code == 200
        (record,) = response.get_json()
        assert set(record) == TIPSTER_FIELDS
        assert record["service_request_id"] == tip.reference
        assert record["status"] == "open" and record["service_code"] == "theft"
        assert record["requested_datetime"] == "2026-03-05T00:00:00+07:00"
        assert record["updated_datetime"] == "2026-03-05T00:00:00+07:00"
        xml = client.get(f"{BASE}/requests/{tip.reference}.xml", headers=headers)
        (request_element,) = _xml(xml).findall("request")
        assert {child.tag for child in request_element} == TIPSTER_FIELDS
        text = response.get_data(as_text=True) + xml.get_data(as_text=True)
        for secret in ("An Bình", "Mới tiếp nhận", "01:37", "19.8", "Nhà văn hóa", "Mất trộm"):
            assert secret not in text, secret


def test_a_reference_alone_says_closed_but_not_how(client, world, make_tip):
    tip = make_tip(world.a1)
    police = world.user("police_a")
    for action in (
        workflow.Action.TRIAGE,
        workflow.Action.START_VERIFICATION,
        workflow.Action.VERIFY,
    ):
        workflow.transition(tip, action, police)
    workflow.transition(
        tip,
        workflow.Action.RESOLVE,
        police,
        outcome=Outcome.MEDIATED,
        note="Đã hòa giải xong.",
        note_to_tipster=True,
    )
    db.session.commit()
    (record,) = client.get(f"{BASE}/requests/{tip.reference}.json").get_json()
    assert record["status"] == "closed" and set(record) == TIPSTER_FIELDS
    assert record["updated_datetime"].endswith("T00:00:00+07:00")


def test_a_reading_key_reads_one_request_as_before(client, world, make_tip, key):
    tip = make_tip(world.a1, now=LATE_EVENING_UTC, place="Nhà văn hóa thôn Đông")
    (record,) = client.get(f"{BASE}/requests/{tip.reference}.json", headers=key()).get_json()
    assert record["agency_responsible"] == "Xã An Bình" and record["commune_code"] == "A"
    assert record["requested_datetime"] == "2026-03-05T01:37:00+07:00"
    assert record["address"] == "Nhà văn hóa thôn Đông"


def test_an_unknown_token_is_a_404_in_the_spec_shape(client, world):
    response = client.get(f"{BASE}/tokens/phone-outbox-0001.json")
    assert response.status_code == 404
    assert response.get_json()[0]["code"] == 404
