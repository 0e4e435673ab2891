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
from tipline.accounts.models import Role, User
from tipline.accounts.permissions import (
    VILLAGE_TEAM,
    acting_roles,
    can_read_tip,
    can_see_identity,
    start_page,
    template_communes,
    tip_permissions,
    units_with,
)
from tipline.accounts.services import authenticate
from tipline.alerts import settings as alert_settings
from tipline.core.errors import TiplineError
from tipline.core.http import no_store, safe_path
from tipline.core.text import row_id
from tipline.core.timeutil import utcnow
from tipline.extensions import db, limiter
from tipline.media.storage import storage_for
from tipline.places.models import UnitLevel
from tipline.places.services import unit_by_code, unit_sort_key
from tipline.staff.forms import (
    ActionForm,
    AssignForm,
    BulkForm,
    ConfirmForm,
    HeldBulkForm,
    LoginForm,
    MessageForm,
    NoteForm,
    PriorityForm,
    RecordForm,
    ReleaseForm,
    TemplateForm,
    move_choices,
    people_choices,
)
from tipline.tips import held, replies, triage, workflow
from tipline.tips.duplicates import duplicate_candidates
from tipline.tips.identity import open_identity
from tipline.tips.inbox import (
    HELD_LABEL,
    SORT_LABELS,
    BadFilter,
    InboxFilter,
    active_filters,
    assignable_people,
    cached_inbox_counts,
    inbox_options,
    inbox_page,
    mark_read,
    quick_filters,
    village_month,
)
from tipline.tips.models import (
    MessageKind,
    Outcome,
    Priority,
    RejectReason,
    TipPhoto,
    TipSource,
    TipStatus,
)
from tipline.tips.queries import tip_by_reference_for, tip_for
from tipline.tips.services import active_categories, new_submission_key, normalize_reference

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
        return redirect(url_for(start_page(current_user)))
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
            # No page asked for: each role's own start (permissions.start_page).
            return redirect(safe_path(form.next.data, url_for(start_page(user))))
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
        wanted = InboxFilter.from_args(request.args, todo_by_default=True)
    except BadFilter as error:
        return render_template("staff/bad_filter.html", message=error.message), 400
    now = utcnow()
    size = current_app.config["TIPLINE_INBOX_PAGE_SIZE"]
    result = inbox_page(current_user, wanted, size, now=now)
    counts = cached_inbox_counts(current_user, now=now)
    options = inbox_options(current_user)
    bulk = BulkForm(formdata=None)
    bulk.assignee.choices = people_choices(options.assignees)
    args = wanted.to_args()
    base = url_for(".inbox")
    return render_template(
        "staff/inbox.html",
        tips=result.tips,
        page=result.page,
        has_next=result.has_next,
        wanted=wanted,
        chips=[
            (str(c.label), c.count, _link(base, c.args), c.args == args)
            for c in quick_filters(counts, args)
        ],
        unread_total=counts.unread,
        unread_ids=result.unread_ids,
        overdue_ids={t.id for t in result.tips if triage.is_overdue(t, now)},
        categories=options.categories,
        units=options.units,
        sorts=SORT_LABELS,
        active=active_filters(wanted, options),
        bulk=bulk,
        args=args,
        # Built once here: the page repeats them for every tip.
        status_labels={s: str(s.label) for s in TipStatus},
        priority_labels={p: str(p.label) for p in Priority},
        inbox_url=base,
        tips_url=base + "tips/",
        held_count=counts.held,
    )


def _link(base: str, args: dict) -> str:
    return base + ("?" + urlencode(args) if args else "")


@bp.get("/thon-cua-toi")
@login_required
def village_home():
    """A village team's own page: this month in its village(s), and what waits for them."""
    villages = sorted(units_with(current_user, VILLAGE_TEAM), key=unit_sort_key)
    if not villages:
        abort(403)
    month = village_month(current_user, villages, size=5)
    return render_template(
        "staff/home.html",
        villages=villages,
        month=month,
        status_labels={s: str(s.label) for s in TipStatus},
        priority_labels={p: str(p.label) for p in Priority},
        tips_url=url_for(".inbox") + "tips/",
    )


@bp.get("/tai-khoan-cua-toi")
@login_required
def my_account():
    """Everything of one's own account and the pages one's roles open, in one list: the
    phone's bottom bar has room for four links only."""
    return render_template("staff/account.html", confirm=ConfirmForm(formdata=None))


def _tip_or_404(public_id: str):
    tip = tip_for(current_user, public_id)
    if tip is None:
        abort(404)
    return tip


@bp.get("/tips/<public_id>")
@login_required
def tip_detail(public_id: str):
    tip = _tip_or_404(public_id)
    mark_read(tip, current_user)
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
    actions = perms.actions  # a held tip's: a rejection only (workflow.check_held)
    form = form or ActionForm(formdata=None, version=tip.version)
    form.version.data = tip.version
    form.outcome.choices = [
        SelectChoice("", "—"),
        *Outcome.choices(workflow.allowed_outcomes(tip, current_user)),
    ]
    form.reason.choices = [
        SelectChoice("", "—"),
        *RejectReason.choices(workflow.reject_reasons(tip, current_user)),
    ]
    if perms.allows(workflow.Action.MOVE):
        form.to_unit.choices = move_choices(
            tip.unit.commune, workflow.move_targets(tip, current_user)
        )
    note_form = NoteForm(formdata=None)
    templates = replies.templates_for(tip) if perms.can_use_templates else []
    chosen = next((t for t in templates if t.id == template_id), None)
    if chosen is not None:
        note_form.body.data = chosen.body
        note_form.to_tipster.data = True
    assign_form = AssignForm(formdata=None, version=tip.version)
    if perms.can_assign:
        assign_form.assignee.choices = people_choices(assignable_people([tip.unit]))
        assign_form.assignee.data = str(tip.assignee_id or "")
    priority_form = PriorityForm(formdata=None, version=tip.version, priority=tip.priority.value)
    merge = workflow.Action.MARK_DUPLICATE in actions
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
            # Closing owes the tipster a note: a chosen template fills it there too.
            closing_note=chosen.body if chosen is not None else "",
            can_assign=perms.can_assign,
            assign_form=assign_form,
            can_prioritize=perms.can_set_priority,
            priority_form=priority_form,
            duplicates=_duplicates(tip) if merge else [],
            overdue=triage.is_overdue(tip),
            messages=tip.messages,
            message_form=message_form or MessageForm(formdata=None),
            can_message=perms.can_message,
            can_read=_readable,
            can_release=tip.held and tip.is_open and held.may_release(tip, current_user),
            spam_allowed=RejectReason.SPAM in workflow.reject_reasons(tip, current_user)
            and workflow.Action.REJECT in actions,
            held_commune=tip.unit.commune or tip.unit,
        ),
        status,
    )


def _duplicates(tip) -> list:
    """Possible duplicates to merge into (held tips are left out by the query: a flood's
    copies are not what a real tip joins; they are rejected or released first)."""
    return duplicate_candidates(tip, current_user)


def _readable(other) -> bool:
    """Whether a tip named on this page (merged into, merged from) is the viewer's to see:
    a tip hidden from the village team must not show even its reference there."""
    return can_read_tip(other, current_user)


@bp.post("/tips/<public_id>/act")
@login_required
def act(public_id: str):
    tip = _tip_or_404(public_id)
    form = ActionForm()
    action = form.parsed_action()
    if not form.validate_on_submit() or action is None:
        return _render_tip(tip, form=form, error=_l("Thao tác không hợp lệ."), status=400)
    try:
        workflow.check_held(tip, action)
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


@bp.get("/giong-noi/<public_id>")
@login_required
def voice_note(public_id: str):
    """A tip's voice note, for those who may hear it (tips/voice.py); 404 for anyone else,
    as for a note that does not exist. Served no-store: a voice can identify a neighbour."""
    from tipline.tips.models import Tip, TipVoiceNote
    from tipline.tips.voice import can_hear_voice

    note = db.session.scalar(select(TipVoiceNote).where(TipVoiceNote.public_id == public_id))
    tip_id = note.tip_id if note is not None else None
    tip_public_id = db.session.scalar(select(Tip.public_id).where(Tip.id == tip_id))
    tip = tip_for(current_user, tip_public_id) if tip_public_id else None
    if tip is None or not can_hear_voice(tip, current_user):
        abort(404)
    try:
        data = storage_for(current_app).get(note.filename)
    except FileNotFoundError:
        abort(404)
    return no_store(send_file(io.BytesIO(data), mimetype="audio/ogg", max_age=0))


@bp.app_template_global()
def voice_notes_of(tip):
    """(notes, whether the reader may hear them) for a staff page of `tip`."""
    from tipline.tips.voice import can_hear_voice, voice_notes

    notes = voice_notes(tip)
    return notes, bool(notes) and can_hear_voice(tip, current_user)


@bp.app_context_processor
def _unread_badge():
    """The unread count in the staff menu (the inbox passes the one it already has)."""

    def unread() -> int:
        if not current_user.is_authenticated:
            return 0
        return cached_inbox_counts(current_user).unread

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
        workflow.check_version(tip, form.version.data)
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
        workflow.check_version(tip, form.version.data)
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


# --- held tips (issue 21): possible spam, out of the inbox until someone looks -----------

# One page of the held view is one bulk post: a flood of a few hundred tips at once.
HELD_PAGE_SIZE = held.MAX_BULK


def _held_done(operation: str, count: int):
    if operation == held.RELEASE:
        return _l("Đã đưa %(n)d tin vào hộp tin (không phải tin rác).", n=count)
    if operation == held.SPAM:
        return _l(
            "Đã loại %(n)d tin là tin rác. Công an xã có thể hủy quyết định trong 24 giờ "
            "(mục “Đã loại là tin rác”).",
            n=count,
        )
    return _l("Đã hủy quyết định loại %(n)d tin; các tin vẫn được giữ lại để xem xét.", n=count)


def _held_confirmation(operation: str, n: int) -> tuple:
    """The confirmation page's title, what will happen, and its button."""
    if operation == held.RELEASE:
        return (
            _l("Đưa %(n)d tin vào hộp tin?", n=n),
            _l(
                "Các tin này không phải tin rác: chúng vào hộp tin như tin mới "
                "và người xử lý được báo."
            ),
            _l("Không phải tin rác: đưa %(n)d tin vào hộp tin", n=n),
        )
    if operation == held.SPAM:
        return (
            _l("Loại %(n)d tin là tin rác?", n=n),
            _l(
                "Các tin này chuyển sang “Không xử lý”, lý do “Tin rác”, và không còn được "
                "tính là tin tiếp nhận. Công an xã có thể hủy quyết định trong 24 giờ."
            ),
            _l("Loại %(n)d tin là tin rác", n=n),
        )
    return (
        _l("Hủy quyết định loại %(n)d tin?", n=n),
        _l(
            "Các tin trở lại trạng thái trước khi bị loại và vẫn được giữ lại để xem xét: "
            "chưa vào hộp tin."
        ),
        _l("Hủy quyết định loại %(n)d tin", n=n),
    )


def _held_filter(args) -> InboxFilter:
    """The held view's filter (a commune from the flood alarm's link, a state, a page)."""
    wanted = InboxFilter.from_args(args)
    wanted.held = True
    return wanted


@bp.get("/giu-lai")
@login_required
def held_view():
    """Held tips in the user's scope: open ones (to judge), or those rejected as spam."""
    try:
        wanted = _held_filter(request.args)
    except BadFilter as error:
        return render_template("staff/bad_filter.html", message=error.message), 400
    return _render_held(wanted)


def _render_held(wanted: InboxFilter, *, error=None, status: int = 200):
    result = inbox_page(current_user, wanted, HELD_PAGE_SIZE)
    tips = result.tips
    args = {k: v for k, v in wanted.to_args().items() if k != "held"}
    return (
        render_template(
            "staff/held.html",
            tips=tips,
            page=result.page,
            has_next=result.has_next,
            wanted=wanted,
            args=args,
            rejected=wanted.status == TipStatus.REJECTED,
            held_count=cached_inbox_counts(current_user).held,
            # The buttons a page offers; each tip is checked again when the post comes.
            can_judge=any(held.may_release(t, current_user) for t in tips),
            can_undo=any(Role.COMMUNE_POLICE in acting_roles(t, current_user) for t in tips),
            form=HeldBulkForm(formdata=None),
            error=error,
            held_label=HELD_LABEL,
            status_labels={s: str(s.label) for s in TipStatus},
            tips_url=url_for(".inbox") + "tips/",
        ),
        status,
    )


@bp.post("/giu-lai/xu-ly")
@login_required
def held_bulk():
    """Release, reject as spam, or undo the rejection of several held tips: a confirmation
    page first, then (with `confirm`) the change; a bad post changes nothing (4xx)."""
    form = HeldBulkForm()
    back = safe_path(request.form.get("back"), url_for(".held_view"))
    try:
        wanted = _held_filter(request.form)
    except BadFilter:
        wanted = InboxFilter(held=True)
    if not form.validate_on_submit():
        return _render_held(wanted, error=_l("Thao tác không hợp lệ."), status=400)
    ids = form.tips.data or []
    operation = form.operation.data or ""
    if form.whole_page.data in held.OPERATIONS:
        # "Every tip on this page": the view's own filter names them, as it listed them;
        # the confirmation page carries their ids, so what is confirmed is what changes.
        operation = form.whole_page.data
        ids = [t.public_id for t in inbox_page(current_user, wanted, HELD_PAGE_SIZE).tips]
    try:
        tips = held.select_for_bulk(current_user, ids, operation)
    except held.BulkRefused as error:
        return _render_held(wanted, error=error.message, status=error.status_code)
    if form.confirm.data != "1":
        title, text, button = _held_confirmation(operation, len(tips))
        return render_template(
            "staff/held_confirm.html",
            tips=tips,
            operation=operation,
            back=back,
            title=title,
            text=text,
            button=button,
        )
    outcome = held.apply_bulk(current_user, tips, operation)
    db.session.commit()
    flash(_held_done(operation, len(outcome.done)))
    if outcome.skipped:
        flash(
            _l(
                "%(n)d tin được bỏ qua vì đã thay đổi (ví dụ: người khác vừa xử lý), "
                "đầu tiên: %(ref)s: %(why)s",
                n=len(outcome.skipped),
                ref=outcome.skipped[0][0].reference,
                why=outcome.skipped[0][1],
            )
        )
    return redirect(back, code=303)


@bp.post("/tips/<public_id>/release")
@login_required
def release(public_id: str):
    """ "Không phải tin rác": one held tip into the inbox (and its new-tip alert)."""
    tip = _tip_or_404(public_id)
    form = ReleaseForm()
    if not form.validate_on_submit():
        return _render_tip(tip, error=_l("Thao tác không hợp lệ."), status=400)
    try:
        held.release(tip, current_user, expected_version=form.version.data)
        db.session.commit()
    except TiplineError as error:
        db.session.rollback()
        return _render_tip(tip, error=error.message, status=error.status_code)
    flash(_l("Đã đưa tin báo %(ref)s vào hộp tin: không phải tin rác.", ref=tip.reference))
    return redirect(url_for(".tip_detail", public_id=public_id), code=303)


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
    form.offer(categories, units)
    if request.method == "GET":
        return render_template("staff/record.html", form=form)
    rows, errors = form.recorded({c.code: c for c in categories}, {u.code: u for u in units})
    if not form.validate_on_submit() or errors or not rows:
        if not rows and not errors:
            errors.append(_l("Hãy nhập ít nhất một tin báo."))
        return render_template("staff/record.html", form=form, errors=errors), 400
    receipts = triage.record_on_behalf(
        current_user, TipSource(form.source.data), form.batch_key.data, rows
    )
    db.session.commit()
    return render_template("staff/recorded.html", receipts=receipts)


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
            replies.add_template(commune, form.title.data, form.body.data)
            db.session.commit()
            flash(_l("Đã lưu mẫu trả lời."))
            return redirect(url_for(".response_templates"), code=303)
        if commune is None:
            form.commune.errors = [_l("Hãy chọn xã, phường.")]
        status = 400
    return render_template(
        "staff/templates.html",
        form=form,
        templates=replies.templates_of(communes),
        confirm=ConfirmForm(formdata=None),
    ), status


@bp.post("/templates/delete")
@login_required
def delete_template():
    communes = template_communes(current_user, manage=True)
    template = replies.template_in(communes, row_id(request.form.get("template", "")))
    if template is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    replies.delete_template(template)
    db.session.commit()
    flash(_l("Đã xóa mẫu trả lời."))
    return redirect(url_for(".response_templates"), code=303)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():
    """Alert settings: the page is the alerts package's, the URL stays here."""
    return alert_settings.page()
