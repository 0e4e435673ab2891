"""Staff alert pages: my alerts (/staff/thong-bao), a test alert, and the administrators'
page of alerts that could not be sent (/admin/thong-bao-loi).

The settings page keeps its URL in the staff blueprint (/staff/settings/notifications)
and is built by tipline/alerts/settings.py.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from tipline.accounts.models import Role
from tipline.accounts.permissions import holds_any
from tipline.alerts import delivery, inbox, outbox
from tipline.alerts.channels import CHANNELS, label, load_channels
from tipline.alerts.models import DEAD, FAILED, PENDING, SENDING, SENT
from tipline.core import throttle
from tipline.core.http import no_store
from tipline.core.text import row_id
from tipline.extensions import db

bp = Blueprint("alerts", __name__)
admin_bp = Blueprint("alerts_admin", __name__)

STATE_LABELS = {
    PENDING: _l("đang chờ gửi"),
    SENDING: _l("đang gửi"),
    SENT: _l("đã gửi"),
    FAILED: _l("lỗi, sẽ thử lại"),
    DEAD: _l("gửi không được"),
}


@bp.record_once
def _load_channels(state) -> None:
    load_channels()


@bp.app_template_global()
def unread_alerts() -> int:
    """The signed-in staff member's unread alerts (the menu's count); 0 for anyone else."""
    if not current_user.is_authenticated:
        return 0
    return inbox.cached_unread_count(current_user)


@bp.after_request
def _private(response):
    return no_store(response)


@bp.route("/")
@login_required
def index():
    """My alerts, unread first."""
    alerts = inbox.my_alerts(current_user)
    return render_template(
        "alerts/index.html",
        alerts=alerts,
        unread=any(a.unread for a in alerts),
        state_labels=STATE_LABELS,
    )


@bp.post("/doc-het")
@login_required
def read_all():
    inbox.mark_all_read(current_user)
    db.session.commit()
    flash(_l("Đã đánh dấu đã đọc mọi thông báo."))
    return redirect(url_for(".index"), code=303)


@bp.post("/thu")
@login_required
def test():
    """A test alert to myself on every channel I have (its deliveries show on the page)."""
    limit = current_app.config["TIPLINE_TEST_ALERT_LIMIT"]
    if not throttle.take("test-alert", str(current_user.id), limit):
        flash(_l("Bạn đã gửi nhiều thông báo thử trong một giờ qua. Hãy đợi rồi thử lại."))
        return index(), 429
    notification = outbox.notify_test(current_user)
    db.session.flush()
    made = delivery.deliveries_for(notification, notification.created_at)
    notification.fanned_out_at = notification.created_at
    db.session.add_all(made)
    db.session.commit()
    channels = sorted({label(d.channel) for d in made})
    if channels:
        flash(
            _l(
                "Đã gửi thông báo thử qua: %(channels)s. Nếu máy không nhận được trong ít phút, "
                "hãy xem trạng thái bên dưới.",
                channels=", ".join(channels),
            )
        )
    else:
        flash(
            _l(
                "Thông báo thử chỉ hiện trong ứng dụng: bạn chưa có email, điện thoại "
                "hay số nhận tin nhắn nào (xem Cài đặt thông báo)."
            )
        )
    return redirect(url_for(".index"), code=303)


# --- administrators: alerts that could not be sent --------------------------------------


@admin_bp.before_request
@login_required
def _administrators_only():
    if not holds_any(current_user, {Role.ADMIN}):
        abort(404)


@admin_bp.after_request
def _admin_private(response):
    return no_store(response)


@admin_bp.get("/")
def dead_letters():
    return render_template(
        "alerts/dead_letters.html",
        rows=inbox.dead_letters(current_user),
        channels=sorted(CHANNELS),
    )


@admin_bp.post("/gui-lai")
def retry():
    value = request.form.get("delivery", "")
    if value == "all":
        chosen = inbox.all_dead_letters(current_user)
    else:
        delivery_id = row_id(value)
        found = inbox.dead_letter_for(current_user, delivery_id) if delivery_id else None
        if found is None:
            abort(404, _l("Không tìm thấy thông báo này trong danh sách gửi không được."))
        chosen = [found]
    count = inbox.retry(chosen)
    db.session.commit()
    flash(_l("Sẽ gửi lại %(n)d thông báo.", n=count))
    return redirect(url_for(".dead_letters"), code=303)
