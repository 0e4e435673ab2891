"""Open311's answers in the spec's shapes, as JSON or XML (the path's extension decides),
and the API's ways of writing a moment."""

from __future__ import annotations

# Only ever used to write XML, never to parse it.
import xml.etree.ElementTree as ET  # noqa: S405  # nosec B405
from datetime import UTC, datetime

from flask import Response, jsonify, request

from tipline.core.timeutil import LOCAL_TZ


def requested_format() -> str:
    """json or xml: the route's `fmt`, else the path's extension."""
    return (request.view_args or {}).get("fmt") or (
        "xml" if request.path.endswith(".xml") else "json"
    )


# The element of one item of a list, as the spec writes them.
_SINGULAR = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def _xml_value(parent: ET.Element, name: str, value) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _xml_item(child, _SINGULAR.get(name, "item"), item)
            else:
                ET.SubElement(child, _SINGULAR.get(name, "item")).text = str(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(child, key, inner)
    elif value is None:
        pass
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    else:
        child.text = str(value)


def _xml_item(parent: ET.Element, name: str, item: dict) -> None:
    element = ET.SubElement(parent, name)
    for key, value in item.items():
        _xml_value(element, key, value)


def answer(data, *, root: str, item: str, status: int = 200) -> Response:
    """A list of objects (or one object, for a service definition) as JSON or XML."""
    if requested_format() == "xml":
        element = ET.Element(root)
        if isinstance(data, list):
            for entry in data:
                _xml_item(element, item, entry)
        else:
            for key, value in data.items():
                _xml_value(element, key, value)
        body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
        # What discovery advertises (text/xml), with the charset the spec requires.
        return Response(body, status=status, content_type="text/xml; charset=utf-8")
    response = jsonify(data)
    response.status_code = status
    response.content_type = "application/json; charset=utf-8"
    return response


def error_answer(status: int, message) -> Response:
    return answer(
        [{"code": status, "description": str(message)}], root="errors", item="error", status=status
    )


def iso(moment: datetime | None) -> str | None:
    """A naive-UTC moment in W3C form, in Vietnam's time zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(LOCAL_TZ).isoformat()


def day(moment: datetime | None) -> str | None:
    """The local day of a naive-UTC moment, as its midnight in Vietnam's time zone."""
    if moment is None:
        return None
    local = moment.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
