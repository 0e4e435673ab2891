"""Schema and server agree (issue 19, items 12 and 13): what the generated document allows
is accepted, what it refuses is refused, and the answers are the declared shapes."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from tipline.api import schemas
from tipline.api.keys import create_partner_key, issue_staff_token
from tipline.extensions import db

BASE = "/open311/v2"


@pytest.fixture
def document(client, world):
    return client.get("/api/openapi.json").get_json()


@pytest.fixture
def police(world):
    token = issue_staff_token(world.user("police_a")).credential
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _parameter(document, path: str, name: str) -> dict:
    (parameter,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    return parameter["schema"]


def _property(document, schema: str, name: str) -> dict:
    return document["components"]["schemas"][schema]["properties"][name]


def test_the_generated_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)  # openapi-spec-validator: raises on any error


def test_the_document_is_generated_from_the_declarations(client, world, make_tip, document, police):
    """One truth: the document's shapes are the schemas', and so are the real answers."""
    declared = {name: field.data_key or name for name, field in schemas.TipDetail().fields.items()}
    documented = document["components"]["schemas"]["TipDetail"]["properties"]
    assert set(documented) == set(declared.values())
    tip = make_tip(world.a1)
    answer = client.get(f"/api/v1/tips/{tip.public_id}", headers=police).get_json()["tip"]
    assert set(answer) == set(documented)
    listed = client.get("/api/v1/tips", headers=police).get_json()
    assert set(listed["tips"][0]) == set(
        document["components"]["schemas"]["TipSummary"]["properties"]
    )


def test_a_version_is_a_json_integer(client, world, make_tip, police, document):
    assert _property(document, "ActionRequest", "version")["type"] == "integer"
    tip = make_tip(world.a1)
    url = f"/api/v1/tips/{tip.public_id}/actions"
    note = {"action": "note", "note": "Đã gọi trưởng thôn"}
    assert client.post(url, headers=police, json=note | {"version": "3"}).status_code == 400
    assert client.post(url, headers=police, json=note | {"version": 3}).status_code == 409  # stale
    accepted = client.post(url, headers=police, json=note | {"version": 1.0})  # an integer too
    assert accepted.status_code == 200
    assert client.post(url, headers=police, json=note | {"version": 2.5}).status_code == 400


def test_a_note_without_text_is_refused_as_the_document_says(
    client, world, make_tip, police, document
):
    assert "`note`" in _property(document, "ActionRequest", "note")["description"]
    tip = make_tip(world.a1)
    answer = client.post(
        f"/api/v1/tips/{tip.public_id}/actions",
        headers=police,
        json={"action": "note", "version": 1},
    )
    assert answer.status_code == 400 and answer.get_json()["error"] == "Thiếu trường note."


def test_empty_names_and_codes_are_refused_by_both(client, world, document):
    assert _property(document, "NewToken", "username")["minLength"] == 1
    refused = client.post("/api/v1/tokens", json={"username": "", "password": "x"})
    assert refused.status_code == 400 and "username" in refused.get_json()["error"]
    assert _property(document, "NewRequest", "service_code")["minLength"] == 1
    _key, secret = create_partner_key(
        world.user("admin"),
        name="Hue-S",
        unit=world.commune_a,
        may_submit=True,
        may_read=True,
        may_name=False,
    )
    db.session.commit()
    posted = client.post(
        f"{BASE}/requests.json",
        headers={"X-Api-Key": secret},
        data={"service_code": "", "description": "Có người lạ vào kho lúa.", "lat": 1, "long": 1},
    )
    assert posted.status_code == 400 and "service_code" in posted.get_json()[0]["description"]


def test_the_category_filter_lists_the_codes_the_server_takes(client, world, document, police):
    allowed = _parameter(document, "/api/v1/tips", "category")["enum"]
    assert set(allowed) == {"", "theft", "disturbance"}
    for code in allowed:
        assert client.get(f"/api/v1/tips?category={code}", headers=police).status_code == 200
    assert client.get("/api/v1/tips?category=nope", headers=police).status_code == 400


def test_every_value_the_inbox_query_allows_is_accepted(client, world, document, police):
    for name in ("status", "priority", "sort", "open", "mine", "overdue", "unread", "replies"):
        allowed = _parameter(document, "/api/v1/tips", name)["enum"]
        assert "" in allowed, name  # empty means absent, as the document says
        for value in allowed:
            response = client.get(f"/api/v1/tips?{name}={value}", headers=police)
            assert response.status_code == 200, (name, value)
    assert client.get("/api/v1/tips?status=&priority=", headers=police).status_code == 200
    page = re.compile(_parameter(document, "/api/v1/tips", "page")["pattern"])
    for value in ("", "1", "10000"):
        assert page.match(value)
        assert client.get(f"/api/v1/tips?page={value}", headers=police).status_code == 200
    for value in ("0", "10001", "x", "²"):
        assert not page.match(value)
        assert client.get(f"/api/v1/tips?page={value}", headers=police).status_code == 400


def test_empty_open311_dates_mean_absent_and_bad_ones_are_refused(client, world, document):
    _key, secret = create_partner_key(
        world.user("admin"),
        name="Hue-S",
        unit=world.commune_a,
        may_submit=False,
        may_read=True,
        may_name=False,
    )
    db.session.commit()
    headers = {"X-Api-Key": secret}
    path = f"{BASE}/requests.{{fmt}}"
    parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
    assert "empty value means" in parameters["start_date"]["description"]
    assert "empty value means" in parameters["status"]["description"]
    pattern = re.compile(parameters["start_date"]["schema"]["pattern"])
    for value in ("", "2026-01-31T08:00:00+07:00", "2026-01-31T08:00:00Z", "2026-01-31T08:00"):
        assert pattern.match(value)
        query = {"start_date": value, "status": ""}
        answer = client.get(f"{BASE}/requests.json", query_string=query, headers=headers)
        assert answer.status_code == 200, value
    for value in ("2026-01-31", "yesterday", "2026-13-01T00:00:00Z"):
        assert not pattern.match(value)
        query = {"start_date": value}
        answer = client.get(f"{BASE}/requests.json", query_string=query, headers=headers)
        assert answer.status_code == 400, value


def test_every_open311_operation_documents_the_404_of_an_unknown_format(document):
    for path, item in document["paths"].items():
        if path.startswith(BASE):
            for method in set(item) & {"get", "post"}:
                answers = item[method]["responses"]
                assert "404" in answers, (method, path)
                assert set(answers["404"]["content"]) == {"application/json", "text/xml"}


def test_the_schemas_write_a_tip_as_it_is(client, world, make_tip, police):
    """The staff answers are dumped from the Tip itself by the declared schemas."""
    original = make_tip(world.a1, place="Chợ thôn", latitude=19.8, longitude=105.7)
    copy = make_tip(world.a1)
    client.post(
        f"/api/v1/tips/{copy.public_id}/actions",
        headers=police,
        json={"action": "mark_duplicate", "version": 1, "duplicate_of": original.reference},
    )
    detail = client.get(f"/api/v1/tips/{copy.public_id}", headers=police).get_json()["tip"]
    assert detail["reference"] == copy.reference and detail["status"] == "duplicate"
    assert detail["status_label"] == "Trùng lặp" and detail["open"] is False
    assert detail["category"] == {"code": "theft", "name": "Trộm cắp tài sản"}
    assert detail["unit"] == {"code": "A1", "name": "Thôn Đông"}
    assert detail["commune"] == {"code": "A", "name": "Xã An Bình"}
    assert detail["duplicate_of"] == original.reference
    assert detail["public_status"] == "received"  # what the tipster sees: the original's
    assert detail["submitted_at"].endswith("+07:00") and detail["version"] == 2
    assert detail["allowed_actions"] == [] and detail["photo_count"] == 0
    assert [e["kind"] for e in detail["events"]][-1] == "duplicate"
    assert detail["events"][-1]["to_status"] == "duplicate" and detail["events"][0]["actor"] is None
    first = client.get(f"/api/v1/tips/{original.public_id}", headers=police).get_json()["tip"]
    assert (first["place"], first["latitude"], first["longitude"]) == ("Chợ thôn", 19.8, 105.7)
    assert "triage" in first["allowed_actions"] and first["overdue"] is False
