"""Open311 as GeoReport v2 reads: every answer against JSON Schemas written here from the
specification's text (wiki.open311.org/GeoReport_v2 and its Service Discovery page), and
one test for each deviation issue 19 found.

The open311 schema-validation project's schemas state no licence, so these are our own:
the fields, types and enumerations each method's answer has in the specification, dates
in its W3C form with a zone, and the error list. Tipline's extensions (commune_code,
follow_up_code, an endpoint's notes) are allowed as extra fields, as the spec allows.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET  # noqa: S405  # nosec B405 - our own answers

import jsonschema
import pytest
from sqlalchemy import select

from tipline.api.keys import create_partner_key, revoke_partner_key
from tipline.api.models import PartnerKey
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import Category, Tip

BASE = "/open311/v2"
# W3C date-time (the spec's "common subset of ISO 8601"), a zone required.
W3C = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
DATE = {"type": "string", "pattern": W3C}
TEXT = {"type": "string"}


def _object(required: dict, optional: dict | None = None) -> dict:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _list(item: dict) -> dict:
    return {"type": "array", "items": item}


ERRORS = _list(_object({"code": {"type": "integer"}, "description": TEXT}))
DISCOVERY = _object(
    {
        "changeset": DATE,
        "contact": TEXT,
        "key_service": TEXT,
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": _object(
                {
                    "specification": {"type": "string", "pattern": "^https?://"},
                    "url": {"type": "string", "pattern": "^https?://.*/$"},
                    "changeset": DATE,
                    "type": {"enum": ["production", "test"]},
                    "formats": _list({"enum": ["text/xml", "application/json"]}),
                }
            ),
        },
    }
)
SERVICES = _list(
    _object(
        {
            "service_code": TEXT,
            "service_name": TEXT,
            "description": TEXT,
            "metadata": {"type": "boolean"},
            "type": {"enum": ["realtime", "batch", "blackbox"]},
            "keywords": TEXT,
            "group": TEXT,
        }
    )
)
DEFINITION = _object(
    {
        "service_code": TEXT,
        "attributes": _list(
            _object(
                {
                    "variable": {"type": "boolean"},
                    "code": TEXT,
                    "datatype": {
                        "enum": [
                            "string",
                            "number",
                            "datetime",
                            "text",
                            "singlevaluelist",
                            "multivaluelist",
                        ]
                    },
                    "required": {"type": "boolean"},
                    "datatype_description": TEXT,
                    "order": {"type": "integer", "minimum": 1},
                    "description": TEXT,
                },
                {"values": _list(_object({"key": TEXT, "name": TEXT}))},
            )
        ),
    }
)
NULLABLE_TEXT = {"type": ["string", "null"]}
REQUESTS = _list(
    _object(
        {
            "service_request_id": TEXT,
            "status": {"enum": ["open", "closed"]},
            "service_name": TEXT,
            "service_code": TEXT,
            "requested_datetime": DATE,
            "updated_datetime": DATE,
        },
        {
            "status_notes": NULLABLE_TEXT,
            "description": NULLABLE_TEXT,
            "agency_responsible": NULLABLE_TEXT,
            "service_notice": NULLABLE_TEXT,
            "expected_datetime": {"anyOf": [DATE, {"type": "null"}]},
            "address": NULLABLE_TEXT,
            "address_id": NULLABLE_TEXT,
            "zipcode": NULLABLE_TEXT,
            "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
            "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
            "media_url": NULLABLE_TEXT,
        },
    )
)
# POST: "service_request_id" when created at once, otherwise a "token": one or the other.
POSTED = _list(
    {
        **_object({}, {"service_notice": NULLABLE_TEXT, "account_id": NULLABLE_TEXT}),
        "oneOf": [
            {"required": ["service_request_id"], "not": {"required": ["token"]}},
            {"required": ["token"], "not": {"required": ["service_request_id"]}},
        ],
    }
)
TOKENS = _list(_object({"token": TEXT, "service_request_id": TEXT}))
XML_ROOTS = {
    "discovery": ("discovery", "endpoints/endpoint"),
    "services": ("services", "service"),
    "definition": ("service_definition", "attributes/attribute"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def _valid(body, schema) -> None:
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())


def _xml(response, kind: str) -> ET.Element:
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.data.lower().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(response.data)  # noqa: S314  # nosec B314
    tag, child = XML_ROOTS[kind]
    assert root.tag == tag and root.findall(child), response.data[:200]
    return root


def _json(response):
    assert response.content_type == "application/json; charset=utf-8"
    return response.get_json()


@pytest.fixture
def reader(world):
    _key, secret = create_partner_key(
        world.user("admin"),
        name="Hue-S",
        unit=world.province,
        may_submit=True,
        may_read=True,
        may_name=False,
    )
    db.session.commit()
    return {"X-Api-Key": secret}


def _post(client, headers, **fields):
    data = {
        "service_code": "theft",
        "description": "Có người lạ đột nhập kho lúa của thôn.",
        "attribute[commune]": "A",
        "lat": "19.8",
        "long": "105.7",
    }
    data.update(fields)
    return client.post(f"{BASE}/requests.json", data=data, headers=headers)


def _merge(world, make_tip):
    """An open tip and a duplicate merged into it (its own state: duplicate, closed)."""
    original = make_tip(world.a1)
    copy = make_tip(world.a1)
    workflow.transition(
        copy, workflow.Action.MARK_DUPLICATE, world.user("police_a"), duplicate_of=original
    )
    db.session.commit()
    return original, copy


def test_every_answer_satisfies_the_georeport_schemas(client, world, make_tip, reader):
    original, copy = _merge(world, make_tip)
    posted = _post(client, reader, **{"attribute[idempotency_key]": "outbox-000001"})
    for fmt in ("json", "xml"):
        answers = {
            "discovery": client.get(f"{BASE}/discovery.{fmt}"),
            "services": client.get(f"{BASE}/services.{fmt}"),
            "definition": client.get(f"{BASE}/services/theft.{fmt}"),
            "requests": client.get(f"{BASE}/requests.{fmt}", headers=reader),
            "one": client.get(f"{BASE}/requests/{copy.reference}.{fmt}"),
            "one_read": client.get(f"{BASE}/requests/{original.reference}.{fmt}", headers=reader),
            "token": client.get(f"{BASE}/tokens/outbox-000001.{fmt}"),
            "error": client.get(f"{BASE}/requests/TL-AAAA-BBBB.{fmt}"),
        }
        for name, response in answers.items():
            assert response.status_code == (404 if name == "error" else 200), name
        if fmt == "xml":
            for name, kind in [
                ("discovery", "discovery"),
                ("services", "services"),
                ("definition", "definition"),
                ("requests", "requests"),
                ("one", "requests"),
                ("token", "requests"),
                ("error", "errors"),
            ]:
                _xml(answers[name], kind)
            continue
        _valid(_json(answers["discovery"]), DISCOVERY)
        _valid(_json(answers["services"]), SERVICES)
        _valid(_json(answers["definition"]), DEFINITION)
        for name in ("requests", "one", "one_read"):
            _valid(_json(answers[name]), REQUESTS)
        _valid(_json(answers["token"]), TOKENS)
        _valid(_json(answers["error"]), ERRORS)
        assert len(answers["requests"].get_json()) == 3
    assert posted.status_code == 201
    _valid(_json(posted), POSTED)


def test_the_schemas_here_can_fail():
    """The checks above are real: a record without its zone, or with both id and token, fails."""
    record = {
        "service_request_id": "TL-AAAA-BBBB",
        "status": "open",
        "service_name": "x",
        "service_code": "x",
        "requested_datetime": "2026-01-31T08:00:00",
        "updated_datetime": "2026-01-31T08:00:00+07:00",
    }
    with pytest.raises(jsonschema.ValidationError):
        _valid([record], REQUESTS)
    with pytest.raises(jsonschema.ValidationError):
        _valid([{"service_request_id": "TL-AAAA-BBBB", "token": "x"}], POSTED)


# --- the deviations of issue 19, one test each ----------------------------------------------


def test_1_the_status_filter_reads_the_state_the_record_shows(client, world, make_tip, reader):
    original, copy = _merge(world, make_tip)
    (record,) = client.get(f"{BASE}/requests/{copy.reference}.json", headers=reader).get_json()
    assert record["status"] == "open"  # a merged tip shows its original's state
    opened = client.get(f"{BASE}/requests.json?status=open", headers=reader).get_json()
    closed = client.get(f"{BASE}/requests.json?status=closed", headers=reader).get_json()
    assert {r["service_request_id"] for r in opened} == {original.reference, copy.reference}
    assert closed == []
    both = client.get(f"{BASE}/requests.json?status=open,closed", headers=reader).get_json()
    assert len(both) == 2


def test_2_a_missing_or_wrong_key_is_403_and_ignored_where_none_is_needed(
    client, world, make_tip, reader
):
    assert client.post(f"{BASE}/requests.json", data={"service_code": "theft"}).status_code == 403
    wrong = {"X-Api-Key": "tlp_000000000000_nope"}
    refused = _post(client, wrong)
    assert refused.status_code == 403 and refused.get_json()[0]["code"] == 403
    listed = client.get(f"{BASE}/requests.json", headers=wrong)
    assert listed.status_code == 403
    plain = client.get(f"{BASE}/services.json")
    for headers in (wrong, {"X-Api-Key": "garbage"}, {"Authorization": "Bearer nope"}):
        answer = client.get(f"{BASE}/services.json", headers=headers)
        assert (answer.status_code, answer.data) == (200, plain.data)
    tip = make_tip(world.a1)
    (record,) = client.get(f"{BASE}/requests/{tip.reference}.json", headers=wrong).get_json()
    assert "status_notes" not in record  # what a reference alone shows
    # A revoked key: ignored where no key is needed, refused where one is.
    key = db.session.scalar(select(PartnerKey))
    revoke_partner_key(world.user("admin"), key)
    db.session.commit()
    assert client.get(f"{BASE}/services.json", headers=reader).status_code == 200
    assert client.get(f"{BASE}/requests.json", headers=reader).status_code == 403


def test_3_a_post_answers_the_id_and_no_token(client, world, reader):
    response = _post(client, reader, **{"attribute[idempotency_key]": "outbox-000002"})
    (answer,) = response.get_json()
    assert response.status_code == 201
    assert answer["service_request_id"].startswith("TL-") and "token" not in answer
    assert answer["follow_up_code"] and answer["account_id"] is None
    again = _post(client, reader, **{"attribute[idempotency_key]": "outbox-000002"})
    assert again.status_code == 200 and again.get_json() == [answer]
    xml = client.post(
        f"{BASE}/requests.xml",
        data={
            "service_code": "theft",
            "description": "Có người lạ đột nhập kho lúa của thôn.",
            "attribute[commune]": "A",
            "address_string": "Kho lúa",
        },
        headers=reader,
    )
    element = ET.fromstring(xml.data)  # noqa: S314  # nosec B314
    assert element.findtext("request/service_request_id", "").startswith("TL-")
    assert element.find("request/token") is None


def test_4_a_token_needs_no_key_and_reveals_only_its_id(client, world, reader):
    posted = _post(client, reader, **{"attribute[idempotency_key]": "outbox-000003"})
    reference = posted.get_json()[0]["service_request_id"]
    answer = client.get(f"{BASE}/tokens/outbox-000003.json")
    assert answer.status_code == 200
    assert answer.get_json() == [{"token": "outbox-000003", "service_request_id": reference}]
    assert client.get(f"{BASE}/tokens/outbox-999999.json").status_code == 404
    assert client.get(f"{BASE}/tokens/short.json").status_code == 404


def test_5_an_unknown_service_code_is_404(client, world, reader):
    response = _post(client, reader, service_code="nope")
    assert response.status_code == 404 and response.get_json()[0]["code"] == 404
    assert db.session.scalar(select(Tip)) is None


def test_6_a_post_needs_a_location_and_the_commune_is_not_one(client, world, reader):
    nowhere = _post(client, reader, lat="", long="")
    assert nowhere.status_code == 400
    assert "address_string" in nowhere.get_json()[0]["description"]
    assert db.session.scalar(select(Tip)) is None
    for place in ({"address_string": "Kho lúa đầu thôn"}, {"address_id": "KHO-01"}):
        assert _post(client, reader, lat="", long="", **place).status_code == 201, place
    assert _post(client, reader).status_code == 201  # lat and long
    tips = db.session.scalars(select(Tip).order_by(Tip.id)).all()
    assert [t.place for t in tips] == ["Kho lúa đầu thôn", "KHO-01", None]


def test_7_the_description_is_required_and_the_service_says_so(client, world, reader):
    missing = _post(client, reader, description="")
    assert missing.status_code == 400
    assert "bắt buộc" in missing.get_json()[0]["description"]
    definition = client.get(f"{BASE}/services/theft.json").get_json()
    (note,) = [a for a in definition["attributes"] if a["code"] == "description_required"]
    assert note["variable"] is False and "bắt buộc" in note["description"]


def test_8_formats_are_served_as_discovery_advertises(client, world):
    discovery = client.get(f"{BASE}/discovery.json")
    assert discovery.content_type == "application/json; charset=utf-8"
    (endpoint,) = discovery.get_json()["endpoints"]
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    xml = client.get(f"{BASE}/services.xml")
    assert xml.mimetype in endpoint["formats"] and xml.mimetype_params["charset"] == "utf-8"


def test_9_extensions_are_documented_in_discovery_and_the_api_document(client, world):
    (endpoint,) = client.get(f"{BASE}/discovery.json").get_json()["endpoints"]
    assert "commune_code" in endpoint["notes"] and "follow_up_code" in endpoint["notes"]
    document = client.get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert "Extension" in schemas["ServiceRequest"]["properties"]["commune_code"]["description"]
    assert "Extension" in schemas["PostedRequest"]["properties"]["follow_up_code"]["description"]
    assert "commune_code" in document["info"]["description"]


@pytest.mark.parametrize(
    ("path", "xml"),
    [
        ("/services", False),
        ("/services.html", False),
        ("/nosuch.xml", True),
        ("/requests/TL-AAAA-BBBB.yaml", False),
        ("/services/theft", False),
    ],
)
def test_10_unknown_paths_and_formats_are_404_in_the_spec_shape(client, world, path, xml):
    response = client.get(BASE + path)
    assert response.status_code == 404
    if xml:
        assert _xml(response, "errors").findtext("error/code") == "404"
    else:
        _valid(_json(response), ERRORS)


def test_10_a_405_says_which_methods_and_a_bad_photo_is_400(client, world, reader):
    refused = client.delete(f"{BASE}/services.json")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS"
    _valid(_json(refused), ERRORS)
    assert client.put("/api/v1/tokens").headers["Allow"]  # the staff API too
    photo = _post(
        client,
        reader,
        media=(io.BytesIO(b"not an image"), "x.jpg"),
    )
    assert photo.status_code == 400 and photo.get_json()[0]["code"] == 400


def test_11_names_come_in_the_language_asked_for(client, world):
    db.session.execute(
        Category.__table__.update().where(Category.code == "theft").values(name_en="Theft")
    )
    db.session.commit()
    vietnamese = client.get(f"{BASE}/services.json").get_json()
    assert vietnamese[0]["service_name"] == "Trộm cắp tài sản"
    for response in (
        client.get(f"/en{BASE}/services.json"),
        client.get(f"{BASE}/services.json", headers={"Accept-Language": "en-GB,en;q=0.9"}),
    ):
        services = {s["service_code"]: s for s in response.get_json()}
        assert services["theft"]["service_name"] == "Theft"
        assert services["theft"]["group"] == "Security and order"
        assert "Accept-Language" in response.headers["Vary"]
    preferred = client.get(f"{BASE}/services.json", headers={"Accept-Language": "vi,en;q=0.5"})
    assert preferred.get_json()[0]["service_name"] == "Trộm cắp tài sản"
