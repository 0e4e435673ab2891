"""Schemathesis against the app in-process: no 500s, every answer matches the OpenAPI document.

A partner key and a staff token are sent so that the authenticated paths are exercised
(Open311 paths get the key, /api/v1 paths the token), and path parameters are drawn
either freely or as a real tip, category or reference. The number of examples per
operation is bounded; under HYPOTHESIS_PROFILE=ci (conftest) they are derandomized.
"""

from __future__ import annotations

import contextvars

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tipline.accounts.services import user_by_username
from tipline.api.keys import create_partner_key, issue_staff_token
from tipline.extensions import db

EXAMPLES = 12  # per operation and generation mode


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


def test_api_conforms_to_its_openapi_document(app, world, make_tip):
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
    known = {
        "public_id": tip.public_id,
        "service_request_id": tip.reference,
        "service_code": "theft",
        "format": "json",
    }
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
            @given(case=_strategy(operation, known, mode))
            def check(case):
                if case.path.startswith("/open311/"):
                    headers = {"X-Api-Key": partner}
                elif case.method.upper() == "DELETE":
                    # A throwaway token: revoking the shared one would end the run's sign-in.
                    headers = {"Authorization": f"Bearer {_fresh_token(app)}"}
                else:
                    headers = {"Authorization": f"Bearer {staff}"}
                # Outside the test's app context: each request gets its own, as in production.
                contextvars.Context().run(case.call_and_validate, headers=headers, checks=checks)

            check()
