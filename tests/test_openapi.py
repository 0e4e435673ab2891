"""The OpenAPI document stays true: every API route documented, every documented path real."""

from __future__ import annotations

import re

from tipline.tips.inbox import FLAGS, InboxFilter

API_BLUEPRINTS = ("open311", "api_v1", "api_docs")
METHODS = {"get", "post", "put", "patch", "delete"}


def _shape(path: str) -> str:
    """A path with its parameters unnamed: Flask's <x> and OpenAPI's {x} both become {}."""
    return re.sub(r"<[^<>]*>|\{[^{}]*\}", "{}", path)


def _routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in API_BLUEPRINTS:
            for method in set(rule.methods) - {"HEAD", "OPTIONS"}:
                routes.add((_shape(rule.rule), method.lower()))
    return routes


def _documented(document: dict) -> set[tuple[str, str]]:
    return {
        (_shape(path), method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_api_route_is_documented_and_every_documented_path_exists(client, world):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    routes, documented = _routes(client.application), _documented(document)
    assert sorted(routes - documented) == [], "routes missing from the OpenAPI document"
    assert sorted(documented - routes) == [], "documented paths that do not exist"


def test_every_reference_resolves(client, world):
    document = client.get("/api/openapi.json").get_json()
    text = client.get("/api/openapi.json").get_data(as_text=True)
    for name in set(re.findall(r'"#/components/schemas/(\w+)"', text)):
        assert name in document["components"]["schemas"], name
    schemes = document["components"]["securitySchemes"]
    for item in document["paths"].values():
        for operation in (item[m] for m in item if m in METHODS):
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes)


def test_path_parameters_are_declared(client, world):
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        shared = [p for p in item.get("parameters", []) if p["in"] == "path"]
        for method in set(item) & METHODS:
            operation = item[method]
            declared = {
                p["name"] for p in shared + operation.get("parameters", []) if p["in"] == "path"
            }
            assert declared == names, (method, path)


def test_the_follow_up_code_extension_is_explained(client, world):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert "resident" in schemas["PostedRequest"]["properties"]["follow_up_code"]["description"]


def test_the_inbox_list_documents_every_filter_the_inbox_reads(client, world):
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/v1/tips"]["get"]
    documented = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    every = {"q", "status", "priority", "category", "unit", "sort", "page"} | set(FLAGS)
    assert {"open", "mine", "overdue", "unread", "replies"} <= every
    assert documented == every
    # ...and they are the names the one parser reads and writes back.
    values = {"q": "xe", "status": "received", "priority": "urgent", "category": "theft"}
    values |= {"unit": "A1", "sort": "due", "page": "2"}
    full = InboxFilter.from_args({name: "1" for name in every} | values)
    assert set(full.to_args()) | {"page"} == every
