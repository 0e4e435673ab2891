"""Staff pages: thin handlers that parse input, call one service, render."""

from __future__ import annotations

import io
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from tipline.accounts import sessions
from tipline.accounts.models import User
from tipline.accounts.permissions import (
    can_read_tip,
    can_see_identity,
    template_communes,
    tip_permissions,
)
from tipline.accounts.services import authenticate
from tipline.core.errors import StaleObject, TiplineError
from tipline.core.http import no_store, safe_path
from tipline.core.text import clean_text, row_id
from tipline.core.timeutil import utcnow
from tipline.extensions import db, limiter
from tipline.places.models import UnitLevel
from tipline.places.services import (
    unit_by_code,
    unit_sort_key,
)
from tipline.staff.forms import (
    ActionForm,
    AssignForm,
    BulkForm,
    ConfirmForm,
    EmailSettingsForm,
    LoginForm,
    MessageForm,
    NoteForm,
    PriorityForm,
    RecordForm,
    TemplateForm,
)
from tipline.tips import triage, workflow
from tipline.tips.identity import open_identity
from tipline.tips.models import (
    Category,
    MessageKind,
    Outcome,
    Priority,
    RejectReason,
    ResponseTemplate,
    StaffEmail,
    TipPhoto,
    TipSource,
    TipStatus,
)
from tipline.tips.queries import tip_by_reference_for, tip_for
from tipline.tips.services import (
    active_categories,
    category_by_code,
    new_submission_key,
    normalize_reference,
)
from tipline.tips.storage import storage_for

bp = Blueprint("staff", __name__)


@bp.after_request
def _private(response):
    # Staff pages show tips: nothing of them may stay in a cache.
    return no_store(response)


def _safe_next(target: str | None) -> str:
    """A same-site path to go on to (after sign-in, after a bulk action), or the inbox."""
    return safe_path(target, url_for(".inbox"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["TIPLINE_LOGIN_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(".inbox"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        username = form.username.data
        if sessions.login_attempt_refused(username):  # counted before the password check
            form.password.errors = [
                _l("Tài khoản tạm dừng đăng nhập vì sai mật khẩu nhiều lần. Hãy thử lại sau.")
            ]
            return render_template("staff/login.html", form=form), 429
        user = authenticate(username, form.password.data)
        if user is not None:
            db.session.commit()  # a rehashed password
            if not sessions.sign_in(user, form.next.data):
                return redirect(url_for("account.second_factor"))
            return redirect(_safe_next(form.next.data))
        form.password.errors = [_l("Tên đăng nhập hoặc mật khẩu không đúng.")]
        return render_template("staff/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("staff/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    if ConfirmForm().validate_on_submit():
        sessions.sign_out(current_user)  # every copy of this session's cookie ends too
        db.session.commit()
    return redirect(url_for(".login"))


@bp.get("/")
@login_required
def inbox():
    try:
        wanted = _inbox_filter(request.args)
    except ValueError as error:
        return _bad_filter(str(error))
    now = utcnow()
    size = current_app.config["TIPLINE_INBOX_PAGE_SIZE"]
    result = triage.inbox_page(current_user, wanted, size, now=now)
    counts = triage.cached_inbox_counts(current_user, now=now)
    options = triage.inbox_options(current_user)
    bulk = BulkForm(formdata=None)
    bulk.assignee.choices = _people_choices(options.assignees)
    args = _filter_args(wanted)
    base = url_for(".inbox")
    return render_template(
        "staff/inbox.html",
        tips=result.tips,
        page=result.page,
        has_next=result.has_next,
        wanted=wanted,
        chips=_chips(counts, args, base),
        unread_total=counts.unread,
        unread_ids=triage.unread_tip_ids(current_user, result.tips),
        overdue_ids={t.id for t in result.tips if triage.is_overdue(t, now)},
        categories=options.categories,
        units=options.units,
        sorts=SORT_LABELS,
        bulk=bulk,
        args=args,
        # Built once here: the page repeats them for every tip.
        status_labels={s: s.label for s in TipStatus},
        priority_labels={p: p.label for p in Priority},
        inbox_url=base,
        tips_url=base + "tips/",
    )


def _chips(counts: triage.InboxCounts, args: dict, base: str) -> list[tuple]:
    """The quick filters: (label, count or None, link, whether it is the current filter)."""
    chips = [
        (_l("Tất cả"), None, {}),
        (_l("Đang mở"), counts.open, {"open": "1"}),
        (_l("Khẩn"), counts.urgent, {"priority": "urgent", "open": "1"}),
        (_l("Của tôi"), counts.mine, {"mine": "1", "open": "1"}),
        (_l("Quá hạn"), counts.overdue, {"overdue": "1"}),
        (_l("Chưa đọc"), counts.unread, {"unread": "1"}),
    ]
    if counts.unread_replies or args.get("replies"):
        chips.append((_l("Trả lời chưa đọc"), counts.unread_replies, {"replies": "1"}))
    for status in TipStatus:
        chips.append((status.label, counts.by_status.get(status), {"status": status.value}))
    return [
        (str(label), n, base + ("?" + urlencode(params) if params else ""), params == args)
        for label, n, params in chips
    ]


SORT_LABELS = {
    triage.Sort.PRIORITY: _l("Khẩn trước, mới trước"),
    triage.Sort.NEWEST: _l("Mới nhất"),
    triage.Sort.OLDEST: _l("Cũ nhất"),
    triage.Sort.DUE: _l("Sắp đến hạn"),
}
_FLAGS = ("mine", "overdue", "unread", "replies", "open")


def _inbox_filter(args) -> triage.InboxFilter:
    """The inbox's query string, validated; ValueError says what is wrong."""
    wanted = triage.InboxFilter(query=(clean_text(args.get("q", "")) or "")[:200])
    status = args.get("status") or ""
    if status:
        try:
            wanted.status = TipStatus(status)
        except ValueError:
            raise ValueError(_l("Trạng thái không hợp lệ.")) from None
    priority = args.get("priority") or ""
    if priority:
        try:
            wanted.priority = Priority(priority)
        except ValueError:
            raise ValueError(_l("Mức ưu tiên không hợp lệ.")) from None
    category = args.get("category") or ""
    if category:
        found = category_by_code(category)
        if found is None:
            raise ValueError(_l("Loại vụ việc không hợp lệ."))
        wanted.category_id = found.id
    unit = args.get("unit") or ""
    if unit:
        found = unit_by_code(unit)
        if found is None:
            raise ValueError(_l("Địa bàn không hợp lệ."))
        wanted.unit = found
    sort = args.get("sort") or triage.Sort.PRIORITY
    if sort not in triage.Sort.ALL:
        raise ValueError(_l("Cách sắp xếp không hợp lệ."))
    wanted.sort = sort
    flags = {name: args.get(name) for name in _FLAGS}
    for value in flags.values():
        if value not in (None, "", "1"):
            raise ValueError(_l("Bộ lọc không hợp lệ."))
    wanted.mine = flags["mine"] == "1"
    wanted.overdue = flags["overdue"] == "1"
    wanted.unread = flags["unread"] == "1"
    wanted.unread_replies = flags["replies"] == "1"
    wanted.open_only = flags["open"] == "1"
    page = args.get("page") or "1"
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        raise ValueError(_l("Số trang không hợp lệ."))
    wanted.page = int(page)
    wanted.__post_init__()
    return wanted


def _filter_args(wanted: triage.InboxFilter) -> dict:
    """The filter as query-string arguments (for links that keep it)."""
    args = {
        "q": wanted.query or None,
        "status": wanted.status.value if wanted.status else None,
        "priority": wanted.priority.value if wanted.priority else None,
        "unit": wanted.unit.code if wanted.unit else None,
        "sort": wanted.sort if wanted.sort != triage.Sort.PRIORITY else None,
        "mine": "1" if wanted.mine else None,
        "overdue": "1" if wanted.overdue else None,
        "unread": "1" if wanted.unread else None,
        "replies": "1" if wanted.unread_replies else None,
        "open": "1" if wanted.open_only else None,
    }
    if wanted.category_id is not None:
        category = db.session.get(Category, wanted.category_id)
        args["category"] = category.code if category else None
    return {k: v for k, v in args.items() if v is not None}


def _bad_filter(message: str):
    return render_template("staff/bad_filter.html", message=message), 400


def _people_choices(people) -> list[SelectChoice]:
    return [
        SelectChoice("", _l("— Không giao cho ai —")),
        *[SelectChoice(str(p.id), p.name) for p in people],
    ]


def _tip_or_404(public_id: str):
    tip = tip_for(current_user, public_id)
    if tip is None:
        abort(404)
    return tip


@bp.get("/tips/<public_id>")
@login_required
def tip_detail(public_id: str):
    tip = _tip_or_404(public_id)
    triage.mark_read(tip, current_user)
    db.session.commit()
    template = request.args.get("template", type=int)
    return _render_tip(tip, template_id=template)


def _render_tip(
    tip,
    *,
    form: ActionForm | None = None,
    error=None,
    status: int = 200,
    template_id: int | None = None,
    message_form: MessageForm | None = None,
):
    perms = tip_permissions(tip, current_user)
    actions = list(perms.actions)
    form = form or ActionForm(formdata=None, version=tip.version)
    form.version.data = tip.version
    form.outcome.choices = [
        SelectChoice("", "—"),
        *Outcome.choices(workflow.allowed_outcomes(tip, current_user)),
    ]
    form.to_unit.choices = _move_targets(tip) if perms.allows(workflow.Action.MOVE) else []
    note_form = NoteForm(formdata=None)
    templates = triage.templates_for(tip) if perms.can_use_templates else []
    chosen = next((t for t in templates if t.id == template_id), None)
    if chosen is not None:
        note_form.body.data = chosen.body
        note_form.to_tipster.data = True
    assign_form = AssignForm(formdata=None, version=tip.version)
    if perms.can_assign:
        assign_form.assignee.choices = _people_choices(triage.assignable_people([tip.unit]))
        assign_form.assignee.data = str(tip.assignee_id or "")
    priority_form = PriorityForm(formdata=None, version=tip.version, priority=tip.priority.value)
    merge = perms.allows(workflow.Action.MARK_DUPLICATE)
    return (
        render_template(
            "staff/tip.html",
            tip=tip,
            actions=actions,
            form=form,
            note_form=note_form,
            confirm=ConfirmForm(formdata=None),
            can_note=perms.can_note,
            can_note_tipster=perms.can_note_tipster,
            identity_allowed=perms.can_see_identity,
            error=error,
            templates=templates,
            template_used=chosen,
            can_assign=perms.can_assign,
            assign_form=assign_form,
            can_prioritize=perms.can_set_priority,
            priority_form=priority_form,
            duplicates=triage.duplicate_candidates(tip, current_user) if merge else [],
            overdue=triage.is_overdue(tip),
            messages=tip.messages,
            message_form=message_form or MessageForm(formdata=None),
            can_message=perms.can_message,
            can_read=_readable,
        ),
        status,
    )


def _readable(other) -> bool:
    """Whether a tip named on this page (merged into, merged from) is the viewer's to see:
    a tip hidden from the village team must not show even its reference there."""
    return can_read_tip(other, current_user)


def _move_targets(tip) -> list[SelectChoice]:
    commune = tip.unit.commune
    return [
        SelectChoice(unit.code, f"{unit.name} ({_l('không rõ thôn')})")
        if commune is not None and unit.id == commune.id
        else SelectChoice(unit.code, unit.name)
        for unit in workflow.move_targets(tip, current_user)
    ]


@bp.post("/tips/<public_id>/act")
@login_required
def act(public_id: str):
    tip = _tip_or_404(public_id)
    form = ActionForm()
    action = form.parsed_action()
    if not form.validate_on_submit() or action is None:
        return _render_tip(tip, form=form, error=_l("Thao tác không hợp lệ."), status=400)
    try:
        workflow.transition(
            tip,
            action,
            current_user,
            note=form.note.data,
            note_to_tipster=form.note_to_tipster.data,
            outcome=_enum(Outcome, form.outcome.data),
            reason=_enum(RejectReason, form.reason.data),
            duplicate_of=_duplicate_target(form.duplicate_of.data),
            to_unit=_move_target(form.to_unit.data),
            conflict_of_interest=form.conflict_of_interest.data,
            expected_version=form.version.data,
        )
        db.session.commit()
    except TiplineError as error:
        db.session.rollback()
        tip = tip_for(current_user, public_id)
        if tip is None:  # e.g. just hidden from this user's village team
            abort(404)
        return _render_tip(tip, form=form, error=error.message, status=error.status_code)
    flash(_l("Đã cập nhật tin báo %(ref)s: %(action)s.", ref=tip.reference, action=action.label))
    if tip_for(current_user, public_id) is None:  # e.g. handed over for a conflict of interest
        return redirect(url_for(".inbox"), code=303)
    return redirect(url_for(".tip_detail", public_id=public_id), code=303)


def _enum(enum_cls, value):
    try:
        return enum_cls(value) if value else None
    except ValueError:
        return None


def _duplicate_target(reference: str | None):
    if not reference:
        return None
    return tip_by_reference_for(current_user, normalize_reference(reference))


def _move_target(code: str | None):
    if not code:
        return None
    unit = unit_by_code(code)
    if unit is None or unit.level not in (UnitLevel.VILLAGE, UnitLevel.COMMUNE):
        return None
    return unit


@bp.post("/tips/<public_id>/note")
@login_required
def add_note(public_id: str):
    tip = _tip_or_404(public_id)
    form = NoteForm()
    if not form.validate_on_submit():
        message = next(iter(form.errors.values()), [_l("Thao tác không hợp lệ.")])[0]
        return _render_tip(tip, error=message, status=400)
    try:
        workflow.add_note(tip, current_user, form.body.data, to_tipster=form.to_tipster.data)
        db.session.commit()
    except TiplineError as error:
        db.session.rollback()
        return _render_tip(tip, error=error.message, status=error.status_code)
    flash(_l("Đã thêm ghi chú."))
    return redirect(url_for(".tip_detail", public_id=public_id), code=303)


@bp.post("/tips/<public_id>/message")
@login_required
def send_message(public_id: str):
    """Write to the tipster: a question, or a note on how things stand."""
    tip = _tip_or_404(public_id)
    form = MessageForm()
    if not form.validate_on_submit():
        message = next(iter(form.errors.values()), [_l("Thao tác không hợp lệ.")])[0]
        return _render_tip(tip, error=message, status=400, message_form=form)
    try:
        workflow.send_message(tip, current_user, form.body.data, MessageKind(form.kind.data))
        db.session.commit()
    except TiplineError as error:
        db.session.rollback()
        return _render_tip(tip, error=error.message, status=error.status_code, message_form=form)
    flash(_l("Đã gửi tin nhắn cho người báo tin."))
    return redirect(url_for(".tip_detail", public_id=public_id), code=303)


@bp.post("/tips/<public_id>/identity")
@login_required
def identity(public_id: str):
    tip = _tip_or_404(public_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    contact = open_identity(tip, current_user, "view")
    if contact is None:
        abort(403)
    db.session.commit()
    return make_response(render_template("staff/identity.html", tip=tip, contact=contact))


@bp.get("/photos/<public_id>/<size>")
@login_required
def photo(public_id: str, size: str):
    if size not in {"full", "thumb"}:
        abort(404)
    photo = db.session.scalar(select(TipPhoto).where(TipPhoto.public_id == public_id))
    if photo is None or tip_for(current_user, photo.tip.public_id) is None:
        abort(404)
    name = photo.filename if size == "full" else photo.thumb_filename
    try:
        data = storage_for(current_app).get(name)
    except FileNotFoundError:
        abort(404)
    return send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=0)


@bp.app_context_processor
def _unread_badge():
    """The unread count in the staff menu (the inbox passes the one it already has)."""

    def unread() -> int:
        if not current_user.is_authenticated:
            return 0
        return triage.unread_count(current_user)

    return {"unread_badge": unread, "Priority": Priority}


def _user_choice(value: str | None) -> User | None:
    user_id = row_id(value)
    return db.session.get(User, user_id) if user_id is not None else None


@bp.post("/tips/<public_id>/assign")
@login_required
def assign(public_id: str):
    tip = _tip_or_404(public_id)
    form = AssignForm()
    if not form.validate_on_submit():
        return _render_tip(tip, error=_l("Thao tác không hợp lệ."), status=400)
    assignee = _user_choice(form.assignee.data)
    if form.assignee.data and assignee is None:
        # The same answer as for someone who may not take the tip: ids reveal nothing.
        return _render_tip(tip, error=workflow.NOT_ASSIGNABLE, status=409)
    try:
        if form.version.data != tip.version:
            raise StaleObject(workflow._CHANGED)
        workflow.assign(tip, current_user, assignee)
        db.session.commit()
    except TiplineError as error:
        db.session.rollback()
        return _render_tip(tip, error=error.message, status=error.status_code)
    flash(_l("Đã giao tin báo %(ref)s.", ref=tip.reference))
    return redirect(url_for(".tip_detail", public_id=public_id), code=303)


@bp.post("/tips/<public_id>/priority")
@login_required
def set_priority(public_id: str):
    tip = _tip_or_404(public_id)
    form = PriorityForm()
    if not form.validate_on_submit():
        message = next(iter(form.errors.values()), [_l("Thao tác không hợp lệ.")])[0]
        return _render_tip(tip, error=message, status=400)
    try:
        if form.version.data != tip.version:
            raise StaleObject(workflow._CHANGED)
        workflow.set_priority(tip, current_user, Priority(form.priority.data))
        db.session.commit()
    except TiplineError as error:
        db.session.rollback()
        return _render_tip(tip, error=error.message, status=error.status_code)
    flash(_l("Đã đổi mức ưu tiên: %(p)s.", p=tip.priority.label))
    return redirect(url_for(".tip_detail", public_id=public_id), code=303)


@bp.post("/bulk")
@login_required
def bulk():
    form = BulkForm()
    back = _safe_next(request.form.get("back"))
    if not form.validate_on_submit() or not form.tips.data:
        flash(_l("Hãy chọn ít nhất một tin báo và một thao tác."))
        return redirect(back, code=303)
    assignee = _user_choice(form.assignee.data)
    priority = None
    if form.operation.data == "priority":
        try:
            priority = Priority(form.priority.data)
        except ValueError:
            flash(_l("Hãy chọn mức ưu tiên."))
            return redirect(back, code=303)
    if form.operation.data == "assign" and form.assignee.data and assignee is None:
        flash(workflow.NOT_ASSIGNABLE)
        return redirect(back, code=303)
    result = triage.bulk_apply(
        current_user, form.tips.data, form.operation.data, assignee=assignee, priority=priority
    )
    db.session.commit()
    flash(_l("Đã xử lý %(n)d tin báo.", n=len(result.done)))
    for tip, message in result.refused:
        flash(f"{tip.reference}: {message}")
    if result.missing:
        flash(_l("%(n)d tin không tìm thấy.", n=result.missing))
    return redirect(back, code=303)


@bp.route("/record", methods=["GET", "POST"])
@login_required
def record():
    """Tips heard from residents (meeting, tip box, phone), several at once."""
    units = sorted(triage.recordable_units(current_user), key=unit_sort_key)
    if not units:
        abort(403)
    form = RecordForm()
    if request.method == "GET":
        form.batch_key.data = new_submission_key()
    categories = active_categories()
    category_choices = [SelectChoice("", "—"), *[SelectChoice(c.code, c.name) for c in categories]]
    unit_choices = [SelectChoice("", "—"), *[SelectChoice(u.code, u.name) for u in units]]
    for row in form.rows:
        row.category.choices = category_choices
        row.unit.choices = unit_choices
    if request.method == "GET":
        return render_template("staff/record.html", form=form)
    rows, errors = _recorded_rows(form, {c.code: c for c in categories}, {u.code: u for u in units})
    if not form.validate_on_submit() or errors or not rows:
        if not rows and not errors:
            errors.append(_l("Hãy nhập ít nhất một tin báo."))
        return render_template("staff/record.html", form=form, errors=errors), 400
    receipts = triage.record_on_behalf(
        current_user, TipSource(form.source.data), form.batch_key.data, rows
    )
    db.session.commit()
    return render_template("staff/recorded.html", receipts=receipts)


def _recorded_rows(form, categories, units):
    rows, errors = [], []
    for index, row in enumerate(form.rows, start=1):
        data = row.form
        text = (data.description.data or "").strip()
        if not text and not data.category.data and not data.unit.data:
            continue  # an empty line of the form
        category = categories.get(data.category.data or "")
        unit = units.get(data.unit.data or "")
        if category is None:
            errors.append(_l("Tin %(n)d: hãy chọn loại vụ việc.", n=index))
        if unit is None:
            errors.append(_l("Tin %(n)d: hãy chọn địa bàn.", n=index))
        if len(text) < 10:
            errors.append(_l("Tin %(n)d: hãy ghi nội dung (ít nhất 10 ký tự).", n=index))
        if category and unit and len(text) >= 10:
            rows.append(
                triage.RecordedTip(
                    category, unit, text, data.place.data or None, data.occurred_on.data
                )
            )
    return rows, errors


@bp.route("/tips/<public_id>/print", methods=["GET", "POST"])
@login_required
def print_record(public_id: str):
    """A printable record for the police case file; identity only where allowed, and logged."""
    tip = _tip_or_404(public_id)
    contact = None
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        contact = open_identity(tip, current_user, "print")
        if contact is None:
            abort(403)
        db.session.commit()
    return render_template(
        "staff/print.html",
        tip=tip,
        contact=contact,
        identity_allowed=can_see_identity(tip, current_user),
        can_read=_readable,
        confirm=ConfirmForm(formdata=None),
        printed_at=utcnow(),
    )


@bp.route("/templates", methods=["GET", "POST"])
@login_required
def response_templates():
    communes = template_communes(current_user, manage=True)
    if not communes:
        abort(403)
    form = TemplateForm()
    form.commune.choices = [SelectChoice(c.code, c.name) for c in communes]
    status = 200
    if request.method == "POST":
        commune = next((c for c in communes if c.code == form.commune.data), None)
        if form.validate_on_submit() and commune is not None:
            db.session.add(
                ResponseTemplate(unit_id=commune.id, title=form.title.data, body=form.body.data)
            )
            db.session.commit()
            flash(_l("Đã lưu mẫu trả lời."))
            return redirect(url_for(".response_templates"), code=303)
        if commune is None:
            form.commune.errors = [_l("Hãy chọn xã, phường.")]
        status = 400
    templates = db.session.scalars(
        select(ResponseTemplate)
        .where(ResponseTemplate.unit_id.in_([c.id for c in communes]))
        .order_by(ResponseTemplate.title)
    ).all()
    return render_template(
        "staff/templates.html",
        form=form,
        templates=templates,
        confirm=ConfirmForm(formdata=None),
    ), status


@bp.post("/templates/delete")
@login_required
def delete_template():
    communes = template_communes(current_user, manage=True)
    value = request.form.get("template", "")
    template_id = row_id(value)
    template = db.session.get(ResponseTemplate, template_id) if template_id else None
    if template is None or template.unit_id not in {c.id for c in communes}:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    db.session.delete(template)
    db.session.commit()
    flash(_l("Đã xóa mẫu trả lời."))
    return redirect(url_for(".response_templates"), code=303)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():
    settings = db.session.get(StaffEmail, current_user.id)
    form = EmailSettingsForm(
        obj=settings,
        data=None if settings else {"urgent_tips": True, "tipster_replies": True},
    )
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("staff/notifications.html", form=form), 400
        if not form.email.data:
            if settings is not None:
                db.session.delete(settings)
        else:
            settings = settings or StaffEmail(user_id=current_user.id)
            form.populate_obj(settings)
            db.session.add(settings)
        db.session.commit()
        flash(_l("Đã lưu cài đặt thông báo."))
        return redirect(url_for(".notification_settings"), code=303)
    return render_template("staff/notifications.html", form=form)
