"""A staff member's own account: password, two-factor sign-in, and what every request checks."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from tipline.accounts import permissions, sessions, twofactor
from tipline.accounts.forms import ChangePasswordForm, CodeForm, DisableTwoFactorForm, EnrolForm
from tipline.accounts.services import change_password
from tipline.core import security
from tipline.core.http import no_store, safe_path
from tipline.extensions import db, limiter

bp = Blueprint("account", __name__)

TOO_MANY_PASSWORDS = _l("Tài khoản tạm dừng đăng nhập vì sai mật khẩu nhiều lần. Hãy thử lại sau.")

# Pages a signed-in user may still reach while the account owes something first.
_ALWAYS_OPEN = {"static", "account.password", "account.two_factor", "staff.logout"}


@bp.before_app_request
def _account_checks():
    """Idle sessions end; a reset password or a required second factor comes first."""
    if security.header_authenticated():
        return None  # the API ignores session cookies: nothing to refresh or redirect
    if not current_user.is_authenticated:
        return None
    if sessions.idle_expired():
        sessions.sign_out(None)
        flash(_l("Phiên làm việc đã hết hạn vì lâu không thao tác. Hãy đăng nhập lại."), "info")
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    if request.endpoint in _ALWAYS_OPEN:
        return None
    if current_user.must_change_password:
        return redirect(url_for("account.password"))
    if twofactor.required_for(current_user) and current_user.totp_secret is None:
        return redirect(url_for("account.two_factor"))
    return None


@bp.app_context_processor
def _menu():
    """Which account pages the staff menu offers the signed-in user."""

    def account_links() -> dict[str, bool]:
        return permissions.menu_links(current_user)

    return {"account_links": account_links}


@bp.after_request
def _private(response):
    return no_store(response)


@bp.route("/mat-khau", methods=["GET", "POST"])
@login_required
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if sessions.login_attempt_refused(current_user.username):
            # The current password is checked here too: the account's sign-in allowance
            # counts it, so a stolen session cannot guess the password behind it.
            form.current.errors = [TOO_MANY_PASSWORDS]
            return render_template("account/password.html", form=form), 429
        problems = change_password(current_user, form.current.data, form.new.data)
        if not problems:
            sessions.clear_login_attempts(current_user.username)
            db.session.commit()
            # The version went up: start a fresh session so this one carries on.
            sessions.complete_sign_in(current_user)
            flash(_l("Đã đổi mật khẩu."), "success")
            return redirect(url_for("staff.inbox"))
        form.new.errors = problems
    status = 422 if form.errors else 200
    return render_template("account/password.html", form=form), status


@bp.route("/hai-buoc", methods=["GET", "POST"])
@login_required
def two_factor():
    """Turn on sign-in with an authenticator app (or see that it is on)."""
    user = current_user
    if user.totp_secret is not None:
        return render_template("account/two_factor.html", enabled=True, form=DisableTwoFactorForm())
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        codes = twofactor.enable(user, form.secret.data, form.code.data)
        if codes is not None:
            db.session.commit()
            return render_template("account/recovery_codes.html", codes=codes)
        form.code.errors = [_l("Mã không đúng. Hãy nhập mã đang hiện trong ứng dụng.")]
        status = 422
    elif form.errors:
        status = 422
    if form.secret.errors or not form.secret.data:  # first visit, or a mangled secret
        form.secret.data = twofactor.new_secret()
    uri = twofactor.provisioning_uri(user, form.secret.data)
    return render_template(
        "account/two_factor.html",
        enabled=False,
        form=form,
        secret=form.secret.data,
        qr=twofactor.qr_svg(uri),
        required=twofactor.required_for(user),
    ), status


@bp.post("/hai-buoc/tat")
@login_required
def disable_two_factor():
    form = DisableTwoFactorForm()
    if form.validate_on_submit() and sessions.login_attempt_refused(current_user.username):
        form.password.errors = [TOO_MANY_PASSWORDS]
        return render_template("account/two_factor.html", enabled=True, form=form), 429
    if form.validate_on_submit() and current_user.check_password(form.password.data):
        sessions.clear_login_attempts(current_user.username)
        if twofactor.required_for(current_user):
            flash(_l("Vai trò của bạn bắt buộc xác thực hai bước."), "error")
            return redirect(url_for(".two_factor"))
        twofactor.disable(current_user, current_user)
        db.session.commit()
        flash(_l("Đã tắt xác thực hai bước."), "success")
        return redirect(url_for(".two_factor"))
    form.password.errors = [_l("Mật khẩu không đúng.")]
    return render_template("account/two_factor.html", enabled=True, form=form), 422


@bp.route("/xac-thuc", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
def second_factor():
    """The second step of signing in: a code from the app, or a recovery code."""
    user = sessions.pending_user()
    if user is None:
        return redirect(url_for("staff.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            passed = twofactor.check_second_factor(user, form.code.data)
        except twofactor.SecondFactorLocked as locked:
            # This pending sign-in ends: guessing on needs the password again (and the
            # account's allowance, which counts whichever sign-in or client asks).
            sessions.abandon_pending()
            db.session.rollback()
            form.code.errors = [locked.message]
            response = make_response(render_template("account/second_factor.html", form=form))
            response.status_code = 429
            response.headers["Retry-After"] = str(locked.retry_after)
            return response
        if passed:
            next_url = safe_path(session.get(sessions.NEXT), url_for(permissions.start_page(user)))
            sessions.complete_sign_in(user)
            db.session.commit()  # the used time step, or a spent recovery code
            return redirect(next_url)
        db.session.rollback()
        form.code.errors = [_l("Mã xác thực không đúng hoặc đã dùng.")]
        return render_template("account/second_factor.html", form=form), 401
    status = 422 if form.errors else 200
    return render_template("account/second_factor.html", form=form), status
