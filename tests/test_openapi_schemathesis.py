"""Schemathesis against the app in-process: no 500s, and schema and server agree.

Each operation is fed positive and negative examples; besides "no 500" and "every answer
matches its documented schema", the checks are that the status and content type are
documented ones and that data the document refuses is refused (negative_data_rejection).
A partner key and a staff token are sent so that the authenticated paths are exercised,
and path parameters are drawn either freely or as a real tip, category or reference.

The stateful run follows the document's OpenAPI links (sign in -> the inbox -> a tip -> a
note on it -> sign out; a POSTed request -> reading it) with the same checks. The number
of examples is bounded; under HYPOTHESIS_PROFILE=ci (conftest) they are derandomized.
"""

from __future__ import annotations

import contextvars

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tipline.accounts.services import user_by_username
from tipline.api.keys import create_partner_key, issue_staff_token
from tipline.extensions import db

from .conftest import PASSWORD

EXAMPLES = 12  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
]


def _fresh_token(app) -> str:
    with app.app_context():
        token = issue_staff_token(user_by_username("police_a")).credential
        db.session.commit()
        return token


def _strategy(operation, known: dict, mode: GenerationMode):
    free = operation.as_strategy(generation_mode=mode)
    fixed = {name: value for name, value in known.items() if "{" + name + "}" in operation.path}
    if not fixed:
        return free
    return st.one_of(free, operation.as_strategy(generation_mode=mode, path_parameters=fixed))


@pytest.fixture
def credentials(world, make_tip):
    """A tip, a partner key that may do everything, and a staff token."""
    tip = make_tip(world.a1, latitude=19.8, longitude=105.7)
    _key, partner = create_partner_key(
        world.user("admin"),
        name="Schemathesis",
        unit=world.province,
        may_submit=True,
        may_read=True,
        may_name=True,
    )
    staff = issue_staff_token(world.user("police_a")).credential
    db.session.commit()
    return tip, partner, staff


def _headers(app, case, partner: str, staff: str) -> dict:
    if case.path.startswith("/open311/"):
        return {"X-Api-Key": partner}
    if "Authorization" not in (case.headers or {}):
        return {}  # a negative case without credentials: it must get its 401
    if case.method.upper() == "DELETE":
        # A throwaway token: revoking the shared one would end the run's sign-in.
        return {"Authorization": f"Bearer {_fresh_token(app)}"}
    return {"Authorization": f"Bearer {staff}"}


def test_api_conforms_to_its_openapi_document(app, world, credentials):
    tip, partner, staff = credentials
    known = {
        "public_id": tip.public_id,
        "reference": tip.reference,
        "service_code": "theft",
        "fmt": "json",
    }
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
            @given(case=_strategy(operation, known, mode))
            def check(case):
                headers = _headers(app, case, partner, staff)
                # Outside the test's app context: each request gets its own, as in production.
                contextvars.Context().run(case.call_and_validate, headers=headers, checks=CHECKS)

            check()


def test_the_document_links_the_operations_schemathesis_follows(app, world, credentials):
    document = app.test_client().get("/api/openapi.json").get_json()
    links = {
        (path, method, name): link["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        for answer in operation.get("responses", {}).values()
        for name, link in answer.get("links", {}).items()
    }
    assert links[("/api/v1/tokens", "post", "ListTips")] == "listTips"
    assert links[("/api/v1/tokens", "post", "RevokeToken")] == "revokeToken"
    assert links[("/api/v1/tips", "get", "ReadTip")] == "getTip"
    assert links[("/api/v1/tips/{public_id}", "get", "ActOnTip")] == "actOnTip"
    assert links[("/open311/v2/requests.{fmt}", "post", "ReadRequest")] == "getRequest"
    ids = {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert set(links.values()) <= ids


@pytest.mark.slow
def test_stateful_runs_follow_the_links_without_a_failure(app, world, credentials):
    tip, partner, staff = credentials
    raw = app.test_client().get("/api/openapi.json").get_json()
    # Sign-ins with the test account only, so that the runs start with real tokens.
    body = raw["paths"]["/api/v1/tokens"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {
        "type": "object",
        "properties": {"username": {"const": "police_a"}, "password": {"const": PASSWORD}},
        "required": ["username", "password"],
    }
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    # Valid data only: the links are what this run is about (the other tests send the
    # refused kinds). Without this, a derandomized run (CI's profile) began every sign-in
    # with a body that is no JSON at all, and no link was ever followed.
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    machine = schema.as_state_machine()

    steps = []
    issued = set()  # tokens the run's sign-ins returned

    def linked(case) -> bool:
        return (case.headers or {}).get("Authorization", "").removeprefix("Bearer ") in issued

    class Run(machine):
        def after_call(self, response, case):
            super().after_call(response, case)
            if case.operation.path == "/api/v1/tokens" and response.status_code == 201:
                issued.add(response.json()["token"])
            steps.append(
                (case.method.upper(), case.operation.path, response.status_code, linked(case))
            )

        def before_call(self, case):
            if not linked(case):  # else the token a link carried from the sign-in
                case.headers = {**(case.headers or {}), **_headers(app, case, partner, staff)}

        def call(self, case, **kwargs):
            return contextvars.Context().run(case.call, **kwargs)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS[:4])

    Run.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The links were followed: a real sign-in's token opened the inbox, and a tip id and
    # version read from an answer let a note through.
    assert ("POST", "/api/v1/tokens", 201, False) in steps, steps
    assert ("GET", "/api/v1/tips", 200, True) in steps, steps
    assert any(s[:3] == ("POST", "/api/v1/tips/{public_id}/actions", 200) for s in steps), steps
