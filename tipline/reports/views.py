"""Report pages: the public figures, the staff dashboard, exports, indicators, the review.

Thin handlers: parse input, call the services, render.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from tipline.accounts import permissions
from tipline.accounts.permissions import dashboard_units, indicator_communes, may_export_identity
from tipline.core.http import no_store
from tipline.core.timeutil import local_today, months_back
from tipline.extensions import db
from tipline.places.letterheads import letterhead_of
from tipline.places.models import Unit
from tipline.places.services import root_unit
from tipline.reports import charts, exports
from tipline.reports import review_docx as docx_writer
from tipline.reports import review_pdf as pdf_writer
from tipline.reports.dashboard import dashboard as dashboard_data
from tipline.reports.dashboard import (
    matching_count,
    outcome_rows,
    overdue,
    parse_filter,
    scope_unit,
)
from tipline.reports.disclosure import public_detail, public_overview, public_parts
from tipline.reports.document import review_document
from tipline.reports.errors import ReportError
from tipline.reports.figures import cached
from tipline.reports.forms import IndicatorForm
from tipline.reports.indicators import indicators_for, save_indicator
from tipline.reports.models import INDICATOR_FIELDS
from tipline.reports.periods import Period, parse_period, period_choices
from tipline.reports.review import annual_review, now_local_label, public_review
from tipline.tips.models import Category, TipStatus

public_bp = Blueprint("reports_public", __name__)
bp = Blueprint("reports", __name__)


@bp.after_request
def _private(response):
    return no_store(response)


# --- public ------------------------------------------------------------------------------


@public_bp.get("/so-lieu")
def figures():
    root = root_unit()
    if root is None:
        abort(404)
    period = parse_period(request.args.get("ky"))
    periods = period_choices()
    review = public_review(root)
    # Public periods are the ones offered (and the latest review's): each new period costs
    # a full sum, so the public cannot ask for thousands of them.
    offered = {key for key, _ in periods} | ({review.period.key} if review else set())
    if period.key not in offered:
        raise ReportError(_l("Kỳ báo cáo không hợp lệ."))
    overview = public_overview(root, period)
    chosen, headline = None, overview["headline"]
    code = request.args.get("xa")
    if code:
        matches = [r for r in overview["rows"] if r.unit.code == code]
        if not matches:
            raise ReportError(_l("Không tìm thấy xã, phường này."))
        headline = matches[0]
        chosen = db.session.scalar(select(Unit).where(Unit.id == headline.unit.id))
    detail = public_detail(chosen or root, period, headline)
    # A commune's page lists its villages (not the province's communes again).
    parts = public_parts(chosen, period, headline) if chosen else None
    response = make_response(
        render_template(
            "reports/public.html",
            root=root,
            period=period,
            periods=periods,
            overview=overview,
            chosen=chosen,
            headline=headline,
            detail=detail,
            charts=_public_charts(detail) if detail else None,
            parts=parts,
            review=review,
        )
    )
    # Public figures are the same for everyone; a short public cache spares the server.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _public_charts(detail: dict) -> dict:
    months = detail["months"]
    trend = charts.columns(
        [
            (
                _("Tiếp nhận"),
                [charts.Bar(charts.month_label(m), r.value, str(r)) for m, r, _s, _f in months],
            ),
            (
                # The same words as the counters above the chart (DOMAIN.md's "settled").
                _("Xác minh, giải quyết"),
                [charts.Bar(charts.month_label(m), s.value, str(s)) for m, _r, s, _f in months],
            ),
        ],
        title=_("Tin tiếp nhận và giải quyết theo tháng"),
        desc=_("Biểu đồ cột; số liệu từng tháng có trong bảng ngay sau biểu đồ."),
        chart_id="trend",
    )
    categories = charts.rows(
        [charts.Bar(c.label, shown.value, str(shown)) for c, shown, _f in detail["categories"]],
        title=_("Tin tiếp nhận theo lĩnh vực"),
        desc=_("Biểu đồ thanh; số liệu từng lĩnh vực có trong bảng ngay sau biểu đồ."),
        chart_id="categories",
    )
    return {"trend": trend, "categories": categories}


# --- staff dashboard -----------------------------------------------------------------------


def _filters():
    return parse_filter(current_user, request.args)


@bp.get("/")
@login_required
def dashboard():
    flt = _filters()
    data = dashboard_data(current_user, flt.unit, flt.period)
    matching = matching_count(current_user, flt)
    overdue_total, overdue_tips = overdue(current_user, flt.unit)
    args = _args(flt)
    # One URL for every row's link: url_for per row would cost more than the figures.
    row_link = url_for(".dashboard", **{k: v for k, v in args.items() if k != "don-vi"})
    # The figures' part of the page is the same for everyone allowed to open it: rendered
    # once per unit, period, filters and language, and dropped with the sums on any write.
    body = cached(
        ("dashboard_body", flt.unit.id, flt.period, row_link, str(get_locale())),
        # A template rendered with autoescape.
        lambda: Markup(  # noqa: S704  # nosec B704
            render_template(
                "reports/_dashboard_body.html",
                data=data,
                outcomes=outcome_rows(data["total"]),
                charts=_staff_charts(data),
                row_link=row_link,
            )
        ),
    )
    return render_template(
        "reports/dashboard.html",
        flt=flt,
        data=data,
        body=body,
        matching=matching,
        overdue=overdue_tips,
        overdue_total=overdue_total,
        periods=period_choices(),
        units=_unit_choices(flt.unit),
        categories=db.session.scalars(select(Category).order_by(Category.sort_order)).all(),
        statuses=list(TipStatus),
        may_export_identity=may_export_identity(current_user),
        args=args,
    )


def _args(flt) -> dict:
    args = {"don-vi": flt.unit.code, "ky": flt.period.key}
    if flt.status:
        args["trang-thai"] = flt.status.value
    if flt.category:
        args["linh-vuc"] = flt.category.code
    return args


def _unit_choices(current: Unit) -> list[tuple[str, str]]:
    """The user's units and the units one level below the current one."""
    # The units below are reached through the table's links, not listed here.
    choices = [(unit.code, unit.name) for unit in dashboard_units(current_user)]
    if current.code not in {c for c, _ in choices}:
        choices.append((current.code, current.name))
    return choices


def _staff_charts(data: dict) -> dict:
    months = data["months"]
    trend = charts.columns(
        [
            (
                _("Tiếp nhận"),
                [charts.Bar(charts.month_label(m), f.received, str(f.received)) for m, f in months],
            ),
            (
                _("Giải quyết"),
                [charts.Bar(charts.month_label(m), f.settled, str(f.settled)) for m, f in months],
            ),
        ],
        title=_("Tin tiếp nhận và giải quyết theo tháng"),
        desc=_("Biểu đồ cột; số liệu từng tháng có trong bảng ngay sau biểu đồ."),
        chart_id="trend",
    )
    categories = charts.rows(
        [charts.Bar(c.label, f.received, str(f.received)) for c, f in data["categories"]],
        title=_("Tin tiếp nhận theo lĩnh vực"),
        desc=_("Biểu đồ thanh; số liệu từng lĩnh vực có trong bảng ngay sau biểu đồ."),
        chart_id="categories",
    )
    return {"trend": trend, "categories": categories}


# --- exports ---------------------------------------------------------------------------------


def _export(fmt: str):
    flt = _filters()
    # Personal data leaves only by a deliberate POST (CSRF token, same origin): a link or
    # a prefetch must not be able to write to the identity-access log.
    wanted = request.form.get("danh-tinh") if request.method == "POST" else None
    if request.args.get("danh-tinh") not in (None, "", "0") or wanted not in (None, "", "0", "1"):
        abort(400)
    rows, count = exports.tip_rows(
        current_user,
        flt,
        fmt=fmt,
        with_identity=wanted == "1",
        max_rows=current_app.config["TIPLINE_REPORTS_EXPORT_MAX_ROWS"],
    )
    db.session.commit()
    name = f"tin-bao-{flt.unit.code}-{flt.period.key}"
    if fmt == "csv":
        body, mime = exports.to_csv(rows), "text/csv; charset=utf-8"
    else:
        title = exports.sheet_title(_("Tin báo"), flt.unit.name, flt.period.label)
        body = exports.to_xlsx(rows, _("Tin báo"), title)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = make_response(body)
    response.headers["Content-Type"] = mime
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["X-Tipline-Rows"] = str(count)
    return response


@bp.route("/xuat.csv", methods=["GET", "POST"])
@login_required
def export_csv():
    return _export("csv")


@bp.route("/xuat.xlsx", methods=["GET", "POST"])
@login_required
def export_xlsx():
    return _export("xlsx")


# --- indicators ----------------------------------------------------------------------------


def _indicator_form(communes: list[Unit]) -> IndicatorForm:
    form = IndicatorForm()
    blank = SelectChoice("", _l("— Chọn —"))
    form.commune.choices = [blank, *(SelectChoice(c.code, c.name) for c in communes)]
    if request.method == "GET":
        if len(communes) == 1:  # one commune: already chosen
            form.commune.data = form.commune.data or communes[0].code
        today = local_today()
        form.period_start.data = form.period_start.data or months_back(today, 12)
        form.period_end.data = form.period_end.data or today
    return form


@bp.route("/chi-tieu", methods=["GET", "POST"])
@login_required
def indicators():
    communes = indicator_communes(current_user)
    if not communes:
        abort(403)
    form = _indicator_form(communes)
    status = 200
    if request.method == "POST":
        if form.validate():
            commune = next(c for c in communes if c.code == form.commune.data)
            save_indicator(
                current_user,
                commune,
                form.period_start.data,
                form.period_end.data,
                form.values(),
            )
            db.session.commit()
            flash(_("Đã lưu chỉ tiêu của %(commune)s.", commune=commune.name))
            return redirect(url_for(".indicators"))
        status = 400
    return (
        render_template(
            "reports/indicators.html",
            form=form,
            fields=INDICATOR_FIELDS,
            history={c.id: indicators_for(c) for c in communes},
            communes=communes,
        ),
        status,
    )


# --- the annual review ---------------------------------------------------------------------


def _review():
    unit = scope_unit(current_user, request.args.get("don-vi"))
    period: Period = parse_period(request.args.get("ky"))
    return annual_review(unit, period)


@bp.get("/so-ket")
@login_required
def review():
    data = _review()
    return render_template(
        "reports/review.html",
        review=data,
        periods=period_choices(),
        units=_unit_choices(db.session.get(Unit, data.unit.id)),
        pdf=pdf_writer.font_files() is not None,
        letterhead_link=permissions.is_admin_over(current_user, db.session.get(Unit, data.unit.id)),
        args={"don-vi": data.unit.code, "ky": data.period.key},
        made_at=now_local_label(),
    )


@bp.get("/so-ket.xlsx")
@login_required
def review_xlsx():
    data = _review()
    title = exports.sheet_title(
        _("Báo cáo sơ kết mô hình “Khu dân cư an toàn về ANTT”"),
        data.unit.name,
        data.period.label,
    )
    response = make_response(exports.to_xlsx(exports.review_rows(data), _("Sơ kết"), title))
    response.headers["Content-Type"] = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="so-ket-{data.unit.code}-{data.period.key}.xlsx"'
    )
    return response


def _document():
    """The review as an administrative document: the unit's letterhead, a draft of today."""
    data = _review()
    unit = db.session.get(Unit, data.unit.id)
    return data, review_document(data, letterhead_of(unit), now_local_label(), local_today().year)


@bp.get("/so-ket.pdf")
@login_required
def review_pdf():
    data, document = _document()
    fonts = pdf_writer.font_files()
    if fonts is None:
        raise ReportError(_("Máy chủ chưa có phông chữ tiếng Việt để tạo PDF; hãy tải bản Word."))
    response = make_response(pdf_writer.review_pdf(document, fonts))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="so-ket-{data.unit.code}-{data.period.key}.pdf"'
    )
    return response


@bp.get("/so-ket.docx")
@login_required
def review_docx():
    data, document = _document()
    response = make_response(docx_writer.review_docx(document))
    response.headers["Content-Type"] = (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="so-ket-{data.unit.code}-{data.period.key}.docx"'
    )
    return response


@bp.app_context_processor
def _menu():
    """The staff menu's link to the dashboard, for those who may open one."""

    def reports_link() -> bool:
        return current_user.is_authenticated and permissions.menu_links(current_user)["reports"]

    return {"reports_link": reports_link}
