"""Administration: staff accounts and roles within one's scope, villages files, the audit log.

Commune police manage the accounts of their commune; administrators those of their
subtree, plus its villages. Anything outside one's reach answers 404, like a missing page.
"""

from __future__ import annotations

import base64

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from itsdangerous import BadData, URLSafeTimedSerializer
from wtforms.fields.choices import SelectChoice

from tipline.accounts.models import Role, User
from tipline.accounts.permissions import (
    IDENTITY_READERS,
    RANK,
    RoleLevelError,
    admin_units,
    can_manage,
    can_manage_user,
    holds_any,
    is_admin_over,
    managed_units,
    units_with,
)
from tipline.accounts.services import (
    AccountError,
    add_staff,
    give_role,
    reset_password,
    set_active,
    take_role,
    user_by_username,
)
from tipline.admin import services
from tipline.admin.forms import (
    CategoryForm,
    ConfirmForm,
    LetterheadForm,
    NewStaffForm,
    RevokeForm,
    RoleForm,
    VillagesConfirmForm,
    VillagesUploadForm,
)
from tipline.core.http import no_store
from tipline.extensions import db
from tipline.places.importer import plan_villages
from tipline.places.letterheads import issuing_units, letterhead_of, save_letterhead
from tipline.places.models import Unit
from tipline.places.services import commune_by_code, unit_choices
from tipline.tips.models import Category, Priority

bp = Blueprint("admin", __name__)

MAX_VILLAGES_FILE = 256 * 1024


@bp.before_request
@login_required
def _managers_only():
    if not can_manage(current_user):
        abort(404)


@bp.after_request
def _private(response):
    return no_store(response)


# --- accounts ----------------------------------------------------------------------------------


def _role_choices() -> list[tuple[str, str]]:
    top = max((rank for _, rank in managed_units(current_user)), default=0)
    return [(role.value, str(role.label)) for role in Role if RANK[role] <= top]


def _unit_choices() -> list[tuple[str, str]]:
    """Units a role can be given: those below the units one manages."""
    return unit_choices([root for root, _ in managed_units(current_user)])


def _fill(form: RoleForm) -> RoleForm:
    # Required selects start empty (HTML asks it; nobody gives a role by not looking).
    blank = SelectChoice("", _l("— Chọn —"))
    form.role.choices = [blank, *(SelectChoice(*c) for c in _role_choices())]
    form.unit.choices = [blank, *(SelectChoice(*c) for c in _unit_choices())]
    return form


def _chosen(form: RoleForm) -> tuple[Role, Unit]:
    return services.role_to_give(current_user, form.role.data, form.unit.data)


def _page() -> int:
    """The page asked for, within bounds (a huge number would overflow the OFFSET)."""
    return services.bounded_page(request.args.get("page", 1, type=int))


@bp.get("/")
def index():
    return redirect(url_for(".users"))


@bp.get("/users")
def users():
    search = request.args.get("q", "").strip()[:64]
    found = services.find_users(current_user, search, _page())
    return render_template(
        "admin/users.html",
        users=found.users,
        total=found.total,
        page=found.page,
        pages=found.pages,
        search=search,
        is_admin=_is_admin(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _fill(NewStaffForm())
    if form.validate_on_submit():
        try:
            role, unit = _chosen(form)
            user, password = add_staff(
                current_user,
                username=form.username.data,
                full_name=form.full_name.data,
                role=role,
                unit=unit,
            )
        except RoleLevelError as error:
            form.unit.errors = [*form.unit.errors, error.message]
            return render_template("admin/new_user.html", form=form), error.status_code
        except AccountError as error:
            form.username.errors = [*form.username.errors, error.message]
            return render_template("admin/new_user.html", form=form), error.status_code
        db.session.commit()
        # The first password is shown once, on this page, never in a URL or a log.
        return render_template("admin/password.html", user=user, password=password, created=True)
    status = 422 if form.errors else 200
    return render_template("admin/new_user.html", form=form), status


def _managed_user(username: str) -> User:
    user = user_by_username(username)
    if user is None or not can_manage_user(current_user, user):
        abort(404)
    return user


@bp.get("/users/<username>")
def user(username: str):
    target = _managed_user(username)
    return render_template(
        "admin/user.html", user=target, role_form=_fill(RoleForm()), confirm=ConfirmForm()
    )


@bp.post("/users/<username>/roles")
def add_role(username: str):
    target = _managed_user(username)
    form = _fill(RoleForm())
    status = 422
    if form.validate_on_submit():
        try:
            role, unit = _chosen(form)
        except RoleLevelError as error:
            form.unit.errors = [*form.unit.errors, error.message]
            status = error.status_code
        else:
            give_role(current_user, target, role, unit)
            db.session.commit()
            flash(_l("Đã giao vai trò."), "success")
            return redirect(url_for(".user", username=target.username))
    return render_template(
        "admin/user.html", user=target, role_form=form, confirm=ConfirmForm()
    ), status


@bp.post("/users/<username>/roles/revoke")
def revoke_role(username: str):
    target = _managed_user(username)
    form = RevokeForm()
    assignment = None
    if form.validate_on_submit():
        assignment = services.held_role(target, form.role.data, form.unit.data)
    if assignment is None:
        flash(_l("Không tìm thấy vai trò này của tài khoản."), "error")
        return redirect(url_for(".user", username=target.username), 303)
    take_role(current_user, assignment)
    db.session.commit()
    flash(_l("Đã thu hồi vai trò."), "success")
    return redirect(url_for(".user", username=target.username))


@bp.post("/users/<username>/active")
def toggle_active(username: str):
    target = _managed_user(username)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    set_active(current_user, target, not target.active)
    db.session.commit()
    message = _l("Đã mở khóa tài khoản.") if target.active else _l("Đã khóa tài khoản.")
    flash(message, "success")
    return redirect(url_for(".user", username=target.username))


@bp.post("/users/<username>/password")
def new_password(username: str):
    target = _managed_user(username)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    password = reset_password(current_user, target)
    db.session.commit()
    return render_template("admin/password.html", user=target, password=password, created=False)


# --- the audit log -------------------------------------------------------------------------------


@bp.get("/audit")
def audit_log():
    if not _is_admin():
        abort(404)
    found = services.audit_page(current_user, _page())
    return render_template("admin/audit.html", entries=found.rows, page=found.page, more=found.more)


def _is_admin() -> bool:
    return holds_any(current_user, {Role.ADMIN})


# --- villages of a commune ------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="villages-file")


def _admin_commune(code: str) -> Unit:
    commune = commune_by_code(code)
    if commune is None or not is_admin_over(current_user, commune):
        abort(404)
    return commune


@bp.route("/units/<code>/villages", methods=["GET", "POST"])
def villages(code: str):
    """Upload a commune's villages file, see what it would do, then confirm."""
    commune = _admin_commune(code)
    form = VillagesUploadForm()
    plan = payload = None
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read(MAX_VILLAGES_FILE + 1)
        if len(data) > MAX_VILLAGES_FILE:
            form.file.errors = [_l("Tệp quá lớn (tối đa 256 KB).")]
            status = 413
        else:
            plan = plan_villages(commune, data)
            status = 200 if plan.ok else 422
            if plan.ok:
                token = base64.urlsafe_b64encode(data).decode()
                payload = _serializer().dumps([commune.code, token])
    elif form.errors:
        status = 422
    return render_template(
        "admin/villages.html",
        commune=commune,
        form=form,
        plan=plan,
        confirm=VillagesConfirmForm(payload=payload) if payload else None,
    ), status


@bp.post("/units/<code>/villages/confirm")
def villages_confirm(code: str):
    commune = _admin_commune(code)
    form = VillagesConfirmForm()
    try:
        if not form.validate_on_submit():
            raise BadData("no payload")
        signed_code, token = _serializer().loads(form.payload.data, max_age=3600)
        data = base64.urlsafe_b64decode(token.encode())
    except (BadData, ValueError, TypeError):
        flash(_l("Bản xem trước đã hết hạn. Hãy tải tệp lên lại."), "error")
        return redirect(url_for(".villages", code=commune.code))
    if signed_code != commune.code:
        abort(404)
    plan = plan_villages(commune, data)
    if not plan.ok:  # the tree changed since the preview
        return render_template(
            "admin/villages.html",
            commune=commune,
            form=VillagesUploadForm(),
            plan=plan,
            confirm=None,
        ), 409
    report = services.import_villages(current_user, commune, plan)
    db.session.commit()
    flash(
        _l(
            "Đã nhập: %(added)s thêm mới, %(updated)s cập nhật, %(unchanged)s không đổi.",
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
        ),
        "success",
    )
    return redirect(url_for(".villages", code=commune.code))


# --- who saw a tipster's identity ------------------------------------------------------------

PURPOSES = {
    "view": _l("Xem danh tính"),
    "print": _l("In hồ sơ có danh tính"),
    "export": _l("Xuất dữ liệu có danh tính"),
}


@bp.get("/identity-log")
def identity_log():
    """Every view, print and export of a tipster's identity in the police's communes."""
    communes = units_with(current_user, IDENTITY_READERS)
    if not communes:
        abort(404)
    found = services.identity_log_page(communes, _page())
    return render_template(
        "admin/identity_log.html",
        rows=found.rows,
        page=found.page,
        more=found.more,
        purposes=PURPOSES,
    )


# --- categories -----------------------------------------------------------------------------


def _category_admin() -> None:
    if not services.manages_categories(current_user):
        abort(404)


def _priority_choices() -> list[tuple[str, str]]:
    return [("", str(_l("Theo cấu hình chung")))] + [(p.value, str(p.label)) for p in Priority]


@bp.get("/categories")
def categories():
    _category_admin()
    found = services.all_categories()
    form = CategoryForm()
    form.default_priority.choices = _priority_choices()
    return render_template(
        "admin/categories.html", categories=found, form=form, confirm=ConfirmForm()
    )


@bp.post("/categories")
def add_category():
    _category_admin()
    form = CategoryForm()
    form.default_priority.choices = _priority_choices()
    if form.validate_on_submit():
        try:
            services.add_category(form.code.data, form.fields())
        except services.CodeTaken as error:
            form.code.errors = [error.message]
        else:
            db.session.commit()
            flash(_l("Đã thêm loại vụ việc."), "success")
            return redirect(url_for(".categories"))
    return render_template(
        "admin/categories.html",
        categories=services.all_categories(),
        form=form,
        confirm=ConfirmForm(),
    ), 422


def _category(code: str) -> Category:
    category = services.category_named(code)
    if category is None:
        abort(404)
    return category


@bp.route("/categories/<code>", methods=["GET", "POST"])
def category(code: str):
    _category_admin()
    found = _category(code)
    form = CategoryForm(obj=found)
    form.default_priority.choices = _priority_choices()
    if not form.is_submitted():
        form.default_priority.data = found.default_priority.value if found.default_priority else ""
    form.code.data = found.code  # the code is an identifier: it never changes
    if form.validate_on_submit():
        services.save_category(found, form.fields())
        db.session.commit()
        flash(_l("Đã lưu."), "success")
        return redirect(url_for(".categories"))
    status = 422 if form.errors else 200
    return render_template("admin/category.html", category=found, form=form), status


@bp.post("/categories/<code>/active")
def toggle_category(code: str):
    _category_admin()
    found = _category(code)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.toggle_category(found)
    db.session.commit()
    flash(
        _l("Đã mở lại loại vụ việc.") if found.active else _l("Đã ngừng dùng loại vụ việc."),
        "success",
    )
    return redirect(url_for(".categories"))


# --- letterheads: how each unit's documents are headed and signed ----------------------------


@bp.route("/letterheads", methods=["GET", "POST"])
def letterhead():
    """Pick a unit (GET ?unit=), then set its issuing body and signer (POST)."""
    units = issuing_units(admin_units(current_user))
    if not units:
        abort(404)
    code = request.args.get("unit", "")
    unit = next((u for u in units if u.code == code), None)
    if code and unit is None:
        abort(404)
    form = LetterheadForm(obj=letterhead_of(unit)) if unit else None
    if form is not None and form.validate_on_submit():
        save_letterhead(unit, form.data)
        db.session.commit()
        flash(_l("Đã lưu tiêu đề và người ký văn bản của %(unit)s.", unit=unit.name), "success")
        return redirect(url_for(".letterhead", unit=unit.code))
    if request.method == "POST" and form is None:
        abort(400)
    status = 422 if form is not None and form.errors else 200
    depth = min(u.path.count("/") for u in units)
    choices = [(u.code, f"{'· ' * (u.path.count('/') - depth)}{u.name}") for u in units]
    return render_template("admin/letterhead.html", choices=choices, unit=unit, form=form), status
