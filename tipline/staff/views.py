"""Staff pages: thin handlers that parse input, call one service, render."""

from __future__ import annotations

import io

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
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from tipline.accounts.models import Role
from tipline.accounts.services import authenticate
from tipline.core.errors import TiplineError
from tipline.core.http import no_store
from tipline.extensions import db, limiter
from tipline.places.models import UnitLevel
from tipline.places.services import communes_of, root_unit, unit_by_code, villages_of
from tipline.staff.forms import ActionForm, ConfirmForm, LoginForm, NoteForm
from tipline.tips import workflow
from tipline.tips.models import IdentityAccess, Outcome, RejectReason, TipPhoto, TipStatus
from tipline.tips.queries import (
    can_see_identity,
    status_counts,
    tip_by_reference_for,
    tip_for,
    visible_tips,
)
from tipline.tips.services import normalize_reference
from tipline.tips.storage import storage_for

bp = Blueprint("staff", __name__)


@bp.after_request
def _private(response):
    # Staff pages show tips: nothing of them may stay in a cache.
    return no_store(response)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(".inbox")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["TIPLINE_LOGIN_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(".inbox"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            db.session.commit()  # a rehashed password
            session.clear()  # no fixation: a fresh session at login
            login_user(user)
            return redirect(_safe_next(form.next.data))
        form.password.errors = [_l("Tên đăng nhập hoặc mật khẩu không đúng.")]
        return render_template("staff/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("staff/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    if ConfirmForm().validate_on_submit():
        logout_user()
        session.clear()
    return redirect(url_for(".login"))


@bp.get("/")
@login_required
def inbox():
    status_value = request.args.get("status") or None
    try:
        status = TipStatus(status_value) if status_value else None
    except ValueError:
        abort(400)
    page = request.args.get("page", 1, type=int) or 1
    page = max(page, 1)
    size = current_app.config["TIPLINE_INBOX_PAGE_SIZE"]
    query = visible_tips(current_user, status=status)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    tips = db.session.scalars(query.limit(size).offset((page - 1) * size)).unique().all()
    return render_template(
        "staff/inbox.html",
        tips=tips,
        status=status,
        counts=status_counts(current_user),
        page=page,
        pages=max(1, -(-total // size)),
        total=total,
    )


def _tip_or_404(public_id: str):
    tip = tip_for(current_user, public_id)
    if tip is None:
        abort(404)
    return tip


@bp.get("/tips/<public_id>")
@login_required
def tip_detail(public_id: str):
    tip = _tip_or_404(public_id)
    return _render_tip(tip)


def _render_tip(tip, *, form: ActionForm | None = None, error=None, status: int = 200):
    actions = workflow.allowed_actions(tip, current_user)
    form = form or ActionForm(formdata=None, version=tip.version)
    form.version.data = tip.version
    form.outcome.choices = [
        SelectChoice("", "—"),
        *Outcome.choices(workflow.allowed_outcomes(tip, current_user)),
    ]
    form.to_unit.choices = _move_targets(tip) if workflow.Action.MOVE in actions else []
    note_form = NoteForm(formdata=None)
    roles = workflow.acting_roles(tip, current_user)
    return (
        render_template(
            "staff/tip.html",
            tip=tip,
            actions=actions,
            form=form,
            note_form=note_form,
            confirm=ConfirmForm(formdata=None),
            can_note=bool(workflow.reading_roles(tip, current_user) & workflow.NOTE_WRITERS),
            can_note_tipster=bool(roles & workflow.SETTLERS),
            identity_allowed=can_see_identity(tip, current_user),
            error=error,
        ),
        status,
    )


def _move_targets(tip) -> list[SelectChoice]:
    commune = tip.unit.commune
    targets = []
    if commune is not None:
        targets.append((commune.code, f"{commune.name} ({_l('không rõ thôn')})"))
        targets += [(v.code, v.name) for v in villages_of(commune)]
    if current_user.roles_over(tip.unit) & {Role.COMMUNE_POLICE, Role.COMMUNE_COMMITTEE}:
        root = root_unit()
        if root is not None:
            targets += [
                (c.code, c.name) for c in communes_of(root) if commune is None or c.id != commune.id
            ]
    return [SelectChoice(code, name) for code, name in targets if code != tip.unit.code]


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
    if tip_for(current_user, public_id) is None:
        return redirect(url_for(".inbox"))
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


@bp.post("/tips/<public_id>/identity")
@login_required
def identity(public_id: str):
    tip = _tip_or_404(public_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not can_see_identity(tip, current_user):
        abort(403)
    db.session.add(IdentityAccess(tip_id=tip.id, user_id=current_user.id))
    db.session.commit()
    return make_response(render_template("staff/identity.html", tip=tip, contact=tip.contact))


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
