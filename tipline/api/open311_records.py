"""Open311's reading side: a tip as a service request (what each key may see), the one
open-or-closed mapping for records and filters, and the list's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from tipline.accounts.permissions import unit_may_read
from tipline.api import schemas
from tipline.api.formats import day, iso
from tipline.api.models import PartnerKey
from tipline.core.timeutil import LOCAL_TZ, utcnow
from tipline.extensions import db
from tipline.tips.models import OPEN_STATUSES, Category, Tip, TipEvent, TipStatus
from tipline.tips.services import normalize_reference, public_status

MAX_IDS = 100


class Open311Error(Exception):
    """An answer in the spec's error shape (a list of {code, description}), in the path's format."""

    def __init__(self, status: int, message) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message


def in_scope(key: PartnerKey | None, tip: Tip) -> bool:
    """Whether the key may read this tip's details (permissions.unit_may_read)."""
    return key is not None and key.may_read and unit_may_read(key.unit, tip)


def open311_status(status: TipStatus) -> str:
    """Open311's open or closed, from the state the tipster sees (services.public_status)."""
    return "open" if status in OPEN_STATUSES else "closed"


def seen_state():
    """public_status in SQL: a merged tip shows the state of the tip it joined."""
    original = aliased(Tip)
    joined = select(original.status).where(original.id == Tip.duplicate_of_id).scalar_subquery()
    return case(
        (Tip.status == TipStatus.DUPLICATE, func.coalesce(joined, Tip.status)), else_=Tip.status
    )


def updated_at(tips: list[Tip]) -> dict[int, datetime]:
    if not tips:
        return {}
    rows = db.session.execute(
        select(TipEvent.tip_id, func.max(TipEvent.at))
        .where(TipEvent.tip_id.in_([t.id for t in tips]), TipEvent.public.is_(True))
        .group_by(TipEvent.tip_id)
    )
    return dict(rows.all())


def tipster_record(tip: Tip, updated: datetime | None) -> dict:
    """What a reference alone may learn: no commune, no detailed state, no minute."""
    return {
        "service_request_id": tip.reference,
        "status": open311_status(public_status(tip)),
        "service_name": tip.category.label,
        "service_code": tip.category.code,
        "requested_datetime": day(tip.submitted_at),
        "updated_datetime": day(updated or tip.submitted_at),
    }


def request_record(tip: Tip, updated: datetime | None, key: PartnerKey | None) -> dict:
    if key is None or not key.may_read:
        return tipster_record(tip, updated)
    status = public_status(tip)
    commune = tip.unit.commune or tip.unit
    record = {
        "service_request_id": tip.reference,
        "status": open311_status(status),
        "status_notes": status.label,
        "service_name": tip.category.label,
        "service_code": tip.category.code,
        "agency_responsible": commune.name,
        "requested_datetime": iso(tip.submitted_at),
        "updated_datetime": iso(updated or tip.submitted_at),
        "commune_code": commune.code,
    }
    if in_scope(key, tip):
        record.update(
            description=tip.description,
            address=tip.place,
            lat=tip.latitude,
            long=tip.longitude,
            expected_datetime=iso(tip.settle_due_at) if status in OPEN_STATUSES else None,
        )
    return record


def records(tips: list[Tip], key: PartnerKey | None) -> list[dict]:
    """The tips as the key may see them, in the schema's shape."""
    updated = updated_at(tips)
    return schemas.ServiceRequest(many=True).dump(
        [request_record(t, updated.get(t.id), key) for t in tips]
    )


def parse_moment(name: str, value: str) -> datetime:
    """A W3C date-time (a missing zone is Vietnam's) as naive UTC; Open311Error if unreadable."""
    text = value.strip()
    try:
        if not schemas.MOMENT.match(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TZ)
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise Open311Error(
            400,
            _l(
                "%(name)s không hợp lệ: dùng dạng ISO 8601, ví dụ 2026-01-31T08:00:00+07:00.",
                name=name,
            ),
        ) from None


def list_filters(args) -> tuple[list, int]:
    conditions = []
    now = utcnow()
    ids = (args.get("service_request_id") or "").strip()
    if ids:
        wanted = [normalize_reference(part) for part in ids.split(",")[:MAX_IDS]]
        if not all(wanted):
            raise Open311Error(400, _l("service_request_id không hợp lệ."))
        return [Tip.reference.in_(wanted)], MAX_IDS
    code = (args.get("service_code") or "").strip()
    if code:
        codes = [c.strip()[:40] for c in code.split(",") if c.strip()]
        if not codes:
            raise Open311Error(400, _l("service_code không hợp lệ."))
        conditions.append(Tip.category.has(Category.code.in_(codes)))
    status = (args.get("status") or "").strip().lower()
    if status:
        wanted_status = {s.strip() for s in status.split(",")}
        if not wanted_status <= {"open", "closed"}:
            raise Open311Error(400, _l("status chỉ nhận open hoặc closed."))
        # The state the record shows (open311_status), not the tip's own.
        if wanted_status == {"open"}:
            conditions.append(seen_state().in_(OPEN_STATUSES))
        elif wanted_status == {"closed"}:
            conditions.append(seen_state().not_in(OPEN_STATUSES))
    window = timedelta(days=current_app.config["TIPLINE_OPEN311_WINDOW_DAYS"])
    start = parse_moment("start_date", args["start_date"]) if args.get("start_date") else None
    end = parse_moment("end_date", args["end_date"]) if args.get("end_date") else None
    if start is None and end is None:
        start = now - window
    elif start is None:
        start = end - window
    if start is not None and end is not None and start > end:
        raise Open311Error(400, _l("start_date phải trước end_date."))
    conditions.append(Tip.submitted_at >= start)
    if end is not None:
        conditions.append(Tip.submitted_at <= end)
    return conditions, current_app.config["TIPLINE_OPEN311_MAX_RESULTS"]
