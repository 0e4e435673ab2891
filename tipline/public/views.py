"""Resident pages. No login, no session cookie, nothing that identifies the visitor."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import lazy_gettext as _l

from tipline.core.http import no_store
from tipline.core.timeutil import local_today, months_back
from tipline.extensions import csrf, db, limiter
from tipline.places.models import UnitLevel
from tipline.places.services import communes_of, root_unit, unit_by_code, villages_of
from tipline.public.forms import FollowUpForm, SubmitTipForm
from tipline.tips import counts
from tipline.tips.models import IdentityTier
from tipline.tips.photos import PhotoError, process_photo
from tipline.tips.services import (
    TipDraft,
    active_categories,
    category_by_code,
    find_by_receipt,
    new_submission_key,
    pending_photo,
    pending_photo_token,
    public_status,
    public_timeline,
    store_photo,
    submit_tip,
)

bp = Blueprint("public", __name__)

UNKNOWN_VILLAGE = ""


def _limit(name: str):
    return lambda: current_app.config[name]


def check_same_origin() -> None:
    """Refuse cross-site posts (what CSRF tokens do for staff, without a resident cookie)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in {"same-origin", "none"}:
        abort(403)
    origin = request.headers.get("Origin")
    if not origin:
        return
    if origin == "null":
        # Sandboxed frames and privacy settings send "null"; only trust it when the
        # browser itself says the post comes from our own pages.
        if site != "same-origin":
            abort(403)
        return
    if urlsplit(origin).netloc != request.host:
        abort(403)


@bp.get("/")
def index():
    root = root_unit()
    if root is None:
        return render_template("public/not_ready.html"), 503
    end = local_today()
    start = months_back(end, 12)
    total, per_commune = counts.figures_by_commune(root, start, end)
    return render_template(
        "public/index.html",
        root=root,
        start=start,
        end=end,
        total=total,
        rows=[(c, per_commune.get(c.id, counts.Figures())) for c in communes_of(root)],
    )


@bp.get("/gui-tin")
def submit_start():
    root = root_unit()
    if root is None:
        abort(404)
    commune = _chosen_commune(root)
    if commune is None:
        return render_template(
            "public/choose_commune.html",
            communes=communes_of(root),
            error=_l("Hãy chọn xã, phường.") if request.args.get("xa") is not None else None,
        )
    form = SubmitTipForm(formdata=None, submission_key=new_submission_key())
    return _render_form(form, commune)


@bp.post("/gui-tin")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_SUBMIT_LIMIT"))
def submit():
    check_same_origin()
    form = SubmitTipForm()
    # The photo first, before any query: re-encoding takes tens of milliseconds and must
    # not hold the database (SQLite's single write lock is taken at the first query).
    photos, photo_error = _take_photo(form)
    root = root_unit()
    commune = _chosen_commune(root) if root else None
    if commune is None:
        return redirect(url_for(".submit_start"))
    _fill_choices(form, commune)
    valid = form.validate()
    if photo_error is not None:
        form.photo.errors = [*form.photo.errors, photo_error]
        valid = False
    form.photo_token.data = pending_photo_token(photos[0]) if photos else ""

    category = category_by_code(form.category.data or "")
    if valid and category is None:
        form.category.errors = [_l("Hãy chọn loại vụ việc.")]
        valid = False
    if not valid:
        if form.submission_key.errors:
            # The resident cannot repair a hidden key: the form shown again gets a fresh one.
            form.submission_key.data = new_submission_key()
        return _render_form(form, commune, kept_photo=bool(photos)), 422

    village = unit_by_code(form.village.data) if form.village.data else None
    tier = IdentityTier(form.identity_tier.data)
    draft = TipDraft(
        submission_key=form.submission_key.data,
        category=category,
        unit=village if village is not None else commune,
        description=form.description.data.strip(),
        place=(form.place.data or "").strip() or None,
        latitude=form.latitude.data,
        longitude=form.longitude.data,
        occurred_on=form.occurred_on.data,
        occurred_time=form.occurred_time.data,
        identity_tier=tier,
        name=form.name.data.strip() if tier != IdentityTier.ANONYMOUS else None,
        phone=form.phone.data if tier != IdentityTier.ANONYMOUS else None,
        photos=photos,
    )
    receipt = submit_tip(draft)
    # Rendered before the commit so nothing is read back after it; should the commit
    # fail, the page is thrown away and the error handler answers instead.
    page = render_template("public/receipt.html", receipt=receipt)
    db.session.commit()
    return no_store(make_response(page))


def _take_photo(form: SubmitTipForm):
    """The uploaded photo cleaned and stored, or the one kept from an earlier attempt.

    Returns (photos, error message or None); a refused new photo keeps the earlier one.
    """
    error = None
    upload = form.photo.data
    if upload is not None and getattr(upload, "filename", None) is not None:
        limit = current_app.config["TIPLINE_MAX_PHOTO_BYTES"]
        data = upload.stream.read(limit + 1)
        if data:
            try:
                processed = process_photo(
                    data,
                    max_bytes=limit,
                    max_pixels=current_app.config["TIPLINE_MAX_PHOTO_PIXELS"],
                )
            except PhotoError as refused:
                error = refused.message
            else:
                return [store_photo(processed)], None
    kept = pending_photo(form.photo_token.data) if form.photo_token.data else None
    return ([kept] if kept is not None else []), error


def _chosen_commune(root):
    code = request.args.get("xa", "")
    if not code:
        return None
    commune = unit_by_code(code)
    if commune is None or commune.level != UnitLevel.COMMUNE or not root.contains(commune):
        return None
    return commune


def _fill_choices(form: SubmitTipForm, commune) -> None:
    form.village.choices = [(UNKNOWN_VILLAGE, str(_l("Không rõ thôn")))] + [
        (v.code, v.name) for v in villages_of(commune)
    ]
    form.category.choices = [(c.code, c.name) for c in active_categories()]


def _render_form(form: SubmitTipForm, commune, kept_photo: bool = False):
    _fill_choices(form, commune)
    response = make_response(
        render_template("public/submit.html", form=form, commune=commune, kept_photo=kept_photo)
    )
    # The form carries a one-time submission key: never serve it from a cache.
    return no_store(response)


@bp.route("/tra-cuu", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(_limit("TIPLINE_FOLLOWUP_LIMIT"), methods=["POST"])
def follow_up():
    form = FollowUpForm()
    if request.method == "POST":
        check_same_origin()
        if form.validate():
            tip = find_by_receipt(form.reference.data, form.code.data)
            if tip is not None:
                response = make_response(
                    render_template(
                        "public/status.html",
                        tip=tip,
                        status=public_status(tip),
                        timeline=public_timeline(tip),
                    )
                )
                return no_store(response)
            form.code.errors = [_l("Mã số tin báo hoặc mã tra cứu không đúng.")]
        return no_store(make_response(render_template("public/follow_up.html", form=form), 422))
    return render_template("public/follow_up.html", form=form)


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/x-icon", max_age=86400
    )
