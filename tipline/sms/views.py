"""SMS intake's routes: the gateway's webhook, and the administrators' registry pages.

POST /sms/webhook/<gateway public id>: SMS Gateway for Android's events (webhook.py says
how each is checked). No cookie, no CSRF token (the signature is the credential); a body
over TIPLINE_SMS_WEBHOOK_MAX_BYTES, a body that is not JSON, a wrong signature or an old
timestamp get a clear 4xx, and nothing changes. Logs name the gateway, never a number.

/admin/sms-gateways: administrators register a gateway to a commune or the province in
their scope (permissions.admin_units), and turn one off.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tipline.accounts.permissions import admin_units, is_admin_over
from tipline.alerts.sms import BadNumber, e164
from tipline.core import throttle
from tipline.core.http import no_store
from tipline.core.security import allow_cross_site
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import csrf, db
from tipline.places.models import Unit, UnitLevel
from tipline.sms import conversation, gateways
from tipline.sms import retention as _retention  # noqa: F401 (registers its sweep)
from tipline.sms import webhook as hook
from tipline.sms.models import SmsGateway, SmsWebhookEvent

log = logging.getLogger("tipline.sms")

bp = allow_cross_site(Blueprint("sms_intake", __name__))
csrf.exempt(bp)
admin_bp = Blueprint("sms_gateways", __name__)


def _refuse(status: int, message, headers: dict | None = None):
    response = make_response(jsonify(error=str(message), status=status), status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


MESSAGES = {
    "body": _l("Nội dung gửi lên quá lớn."),
    "json": _l("Webhook chỉ nhận JSON (Content-Type: application/json)."),
    "gateway": _l("Không có máy nhận SMS này."),
    "number": _l("Số gửi tin không phải số điện thoại Việt Nam."),
    "busy": _l("Máy nhận SMS này đang nhận quá nhiều tin; hãy gửi lại sau."),
}


@bp.post("/sms/webhook/<public_id>")
def webhook(public_id: str):
    config = current_app.config
    cap = int(config["TIPLINE_SMS_WEBHOOK_MAX_BYTES"])
    if request.content_length is not None and request.content_length > cap:
        return _refuse(413, MESSAGES["body"])
    # The app's body cap (TIPLINE_MAX_FORM_BYTES) has read and kept a JSON body already
    # (tipline/core/bodies.py); this route's own cap is smaller.
    body = request.get_data(cache=True)
    if len(body) > cap:
        return _refuse(413, MESSAGES["body"])
    if request.mimetype != "application/json":
        return _refuse(415, MESSAGES["json"])
    gateway = gateways.by_public_id(public_id)
    if gateway is None:
        return _refuse(404, MESSAGES["gateway"])
    try:
        hook.verify(
            gateways.signing_key(gateway),
            body,
            request.headers,
            int(config["TIPLINE_SMS_WEBHOOK_WINDOW_SECONDS"]),
        )
        event = hook.parse(body)
    except hook.WebhookRefused as refused:
        log.info("sms webhook refused for gateway %s: %s", gateway.id, refused.message)
        return _refuse(refused.status, refused.message)
    if event.event != hook.RECEIVED:
        return jsonify(status="ignored", reason="event")
    try:
        phone = e164(event.sender or "")
    except BadNumber:
        return _refuse(422, MESSAGES["number"])
    # In this order: a repeat, then one number's flood, cost the gateway's allowance
    # nothing; only a message that goes on to the conversation counts against it.
    if not _first_time(gateway, event.id):
        return jsonify(status="repeat")
    key = conversation.phone_hash(phone)
    if not throttle.take(
        "sms-number-in", f"{gateway.id}:{key}", config["TIPLINE_SMS_NUMBER_LIMIT"]
    ):
        db.session.commit()  # the event is taken: its repeat is ignored too
        log.info("sms from one number over its limit on gateway %s: dropped", gateway.id)
        return jsonify(status="limited")
    if not throttle.take("sms-gateway-in", gateway.public_id, config["TIPLINE_SMS_GATEWAY_LIMIT"]):
        db.session.rollback()  # not taken: the gateway sends it again after Retry-After
        return _refuse(429, MESSAGES["busy"], {"Retry-After": "600"})
    try:
        outcome = conversation.handle(
            gateway, phone, event.message or "", f"{gateway.id}-{event.id}"
        )
        db.session.commit()
    except Exception as error:  # noqa: BLE001 (the gateway retries; nothing is half-kept)
        db.session.rollback()
        log.error("sms webhook on gateway %s failed: %s", gateway.id, type(error).__name__)
        return _refuse(503, MESSAGES["busy"], {"Retry-After": "60"})
    return jsonify(status="ok", action=outcome.action)


def _first_time(gateway: SmsGateway, event_id: str) -> bool:
    """Record the event id (hashed) for this gateway; False if it was taken before."""
    try:
        with db.session.begin_nested():
            db.session.add(
                SmsWebhookEvent(
                    gateway_id=gateway.id,
                    event_hash=hook.event_hash(event_id),
                    # Rounded up: the replay window is kept at least as long.
                    received_at=to_minute(utcnow()) + timedelta(minutes=1),
                )
            )
            db.session.flush()
    except IntegrityError:
        return False
    return True


# --- administrators ------------------------------------------------------------------------


@admin_bp.before_request
@login_required
def _administrators_only():
    if not admin_units(current_user):
        abort(404)


@admin_bp.after_request
def _private(response):
    return no_store(response)


def _units() -> list[Unit]:
    """The communes and provinces within the administrator's scope."""
    roots = admin_units(current_user)
    found: dict[int, Unit] = {}
    for root in roots:
        for unit in db.session.scalars(
            select(Unit).where(
                root.subtree_clause(),
                Unit.level.in_((UnitLevel.PROVINCE, UnitLevel.COMMUNE)),
                Unit.active.is_(True),
            )
        ):
            found[unit.id] = unit
    return sorted(found.values(), key=lambda u: (u.level != UnitLevel.PROVINCE, u.name))


FORM_ERRORS = {
    "unit": _l("Hãy chọn một xã, phường hoặc tỉnh trong phạm vi của bạn."),
    "number": _l("Số máy nhận SMS phải là số điện thoại Việt Nam, ví dụ 0912 345 678."),
    "url": _l(
        "Địa chỉ máy chủ của điện thoại phải là http(s)://… của điện thoại trong mạng nội bộ "
        "hoặc máy chủ riêng (không dùng máy chủ chuyển tiếp công cộng sms-gate.app), kèm "
        "tên đăng nhập và mật khẩu."
    ),
    "key": _l("Khóa ký webhook cần ít nhất 8 ký tự, đúng như trong ứng dụng."),
    "sim": _l("Số khe SIM là 1, 2 hoặc để trống."),
}


@admin_bp.route("/", methods=["GET", "POST"])
def index():
    units = _units()
    errors: list = []
    values = {
        k: (request.form.get(k) or "").strip() for k in ("unit", "number", "url", "user", "sim")
    }
    if request.method == "POST":
        unit = next((u for u in units if u.code == values["unit"]), None)
        sim_text = values["sim"]
        sim = int(sim_text) if sim_text in ("1", "2") else None
        if unit is None or not is_admin_over(current_user, unit):
            errors.append(FORM_ERRORS["unit"])
        elif sim_text and sim is None:
            errors.append(FORM_ERRORS["sim"])
        else:
            try:
                gateway = gateways.register(
                    unit,
                    number=values["number"],
                    base_url=values["url"],
                    username=values["user"],
                    password=request.form.get("password") or "",
                    signing_key=request.form.get("signing_key") or "",
                    sim=sim,
                )
            except gateways.GatewayError as error:
                errors.append(FORM_ERRORS[str(error)])
            else:
                db.session.commit()
                flash(_l("Đã đăng ký máy nhận SMS %(number)s.", number=gateway.number))
                return redirect(url_for("sms_gateways.index"), code=303)
    rows = db.session.scalars(
        select(SmsGateway)
        .where(SmsGateway.unit_id.in_([u.id for u in units] or [0]))
        .order_by(SmsGateway.active.desc(), SmsGateway.id.desc())
    ).all()
    base = current_app.config["TIPLINE_BASE_URL"].rstrip("/")
    status = 400 if errors else 200
    return render_template(
        "sms/gateways.html",
        units=units,
        gateways=rows,
        errors=errors,
        values=values,
        base=base,
        unit_label=conversation.display_name,
    ), status


@admin_bp.post("/<public_id>/off")
def turn_off(public_id: str):
    gateway = db.session.scalar(select(SmsGateway).where(SmsGateway.public_id == public_id))
    if gateway is None or not is_admin_over(current_user, gateway.unit):
        abort(404)
    gateway.active = False
    db.session.commit()
    flash(_l("Đã tắt máy nhận SMS %(number)s.", number=gateway.number))
    return redirect(url_for("sms_gateways.index"), code=303)


def valid_number(number: str) -> bool:
    try:
        e164(number)
    except BadNumber:
        return False
    return True
