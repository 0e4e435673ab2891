"""Resident pages. No login, nothing that identifies the visitor.

The one cookie: after a correct reference and code, a short tipster session (see
`tipline.public.tipster_session`) lets the status page take replies, photos and a
revealed identity. It holds the tip's public id and session version only, dies with the
browser, and is never Flask's session (which staff use).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l

from tipline.alerts import outbox, sms
from tipline.alerts.channels.base import FLOOD
from tipline.alerts.sms_numbers import subscribe_tip, unsubscribe_tip
from tipline.core.assets import serve_static
from tipline.core.errors import TiplineError
from tipline.core.http import no_store, wants_json
from tipline.core.privacy import client_bucket
from tipline.core.timeutil import local_today, months_back, to_local, utcnow
from tipline.extensions import csrf, db, limiter
from tipline.media.audio import AudioError, clean_audio
from tipline.media.photos import PhotoError, process_photo
from tipline.media.storage import StorageFull, storage_for
from tipline.places.models import UnitLevel
from tipline.places.services import (
    cached_communes,
    cached_root_unit,
    cached_unit,
    cached_villages,
    root_unit,
)
from tipline.public import puzzle
from tipline.public.forms import (
    SUBMISSION_KEY,
    AddPhotoForm,
    FollowUpForm,
    MessageForm,
    RevealForm,
    StatusPhotoForm,
    StatusVoiceForm,
    SubmitTipForm,
)
from tipline.public.guard import receipt_lookup
from tipline.public.tipster_session import (
    SessionEnded,
    end_session,
    end_sessions,
    session_minutes,
    session_tip,
    start_session,
)
from tipline.tips import counts, settled, workflow
from tipline.tips.messages import has_open_question, public_messages
from tipline.tips.models import IdentityTier, MessageKind, TipsterAnswer
from tipline.tips.services import (
    MAX_PHOTOS,
    FormAlreadySent,
    PhotoLimit,
    TipDraft,
    add_photos,
    cached_categories,
    cached_category,
    new_submission_key,
    normalize_reference,
    pending_photo,
    pending_photo_token,
    public_status,
    public_timeline,
    store_photo,
    submit_tip,
)
from tipline.tips.voice import (
    MAX_VOICE_NOTES,
    StoredVoice,
    VoiceLimit,
    add_voice,
    attach_voice,
    pending_voice,
    pending_voice_token,
    store_voice,
    voice_notes,
)
from tipline.tips.voice import discard_unattached as discard_unattached_voice

bp = Blueprint("public", __name__)

UNKNOWN_VILLAGE = ""


def _limit(name: str):
    return lambda: current_app.config[name]


@bp.get("/")
def index():
    root = root_unit()
    if root is None:
        return render_template("public/not_ready.html"), 503
    end = local_today()
    start = months_back(end, 12)
    # The province's headline only: per-commune figures live on the transparency page,
    # which also withholds what would let a hidden small number be worked out.
    return render_template(
        "public/index.html",
        root=root,
        start=start,
        end=end,
        total=counts.figures_for(root, start, end),
    )


@bp.get("/gui-tin")
def submit_start():
    root = cached_root_unit()
    if root is None:
        abort(404)
    commune = _chosen_commune(root)
    if commune is None:
        page = render_template(
            "public/choose_commune.html",
            communes=cached_communes(root),
            error=_l("Hãy chọn xã, phường.") if request.args.get("xa") is not None else None,
            form_key=new_submission_key(),
        )
        return no_store(make_response(page))
    if _navigation_without_key():
        # A link from outside (a poster's QR code, a bookmark): the page's address gets its
        # key first, so that this entry of the browser's history keeps it (see _form_key).
        args = request.args.to_dict()
        args[FORM_KEY_ARG] = new_submission_key()
        return no_store(redirect(f"{request.script_root}{request.path}?{urlencode(args)}", 303))
    now = to_local(utcnow())
    # The date and time default to now (Asia/Ho_Chi_Minh), so that a tip about what is
    # happening needs no typing; the page's script moves them to the phone's clock.
    # A poster's QR code names the village too (`thon`): chosen if it is this commune's.
    village = request.args.get("thon", "")[:40]
    form = SubmitTipForm(
        formdata=None,
        submission_key=_form_key(),
        village=village if any(v.code == village for v in cached_villages(commune)) else None,
        occurred_on=now.date(),
        occurred_time=now.time().replace(second=0, microsecond=0),
    )
    return _render_form(form, commune)


@bp.record_once
def _recording_page_headers(_state) -> None:
    """The form's pages and the status page may record a voice note: the microphone for
    this site (the app denies it everywhere else) and `blob:` media for the recording's
    preview. Flask-Talisman reads these per view, so no other page changes."""
    from tipline import CSP, PERMISSIONS

    for view in (submit_start, submit, status, status_voice):
        view.talisman_view_options = {
            "content_security_policy": {**CSP, "media-src": "'self' blob:"},
            "permissions_policy": {**PERMISSIONS, "microphone": "(self)"},
        }


def _navigation_without_key() -> bool:
    """A browser opening the form page as a page (not a script, not the service worker's
    own copy) at an address without a valid key. Browsers say so in Sec-Fetch-Mode; one too
    old to send it gets a fresh key per fetch, as before."""
    if SUBMISSION_KEY.fullmatch(request.args.get(FORM_KEY_ARG, "")):
        return False
    return request.headers.get("Sec-Fetch-Mode") == "navigate"


FORM_KEY_ARG = "phieu"


def _form_key() -> str:
    """The submission key of this form page: the one in its address, or a fresh one.

    The page choosing the commune puts a fresh key in the form page's address, and a
    browser that opens the form page from elsewhere is redirected to an address with one,
    so the key belongs to that entry of the browser's history: going Back after a plain
    (no script) submission fetches the same address, gets the same key, and sending the
    restored form again is a replay, never a second tip.
    """
    key = request.args.get(FORM_KEY_ARG, "")
    return key if SUBMISSION_KEY.fullmatch(key) else new_submission_key()


@bp.post("/gui-tin")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_SUBMIT_LIMIT"))
def submit():
    request.max_content_length = _upload_limit()
    form = SubmitTipForm()
    # The photos first, before any query: re-encoding takes tens of milliseconds and must
    # not hold the database (SQLite's single write lock is taken at the first query).
    photos, photo_error = _take_photos(form)
    voice, voice_error = _take_voice(form)
    # Units and categories come from the reference cache: the first query of a submission
    # is then the one in submit_tip, and on SQLite the write lock is held from there only.
    root = cached_root_unit()
    commune = _chosen_commune(root) if root else None
    if commune is None:
        return redirect(url_for(".submit_start"))
    _fill_choices(form, commune)
    valid = form.validate()
    if photo_error is not None:
        form.photo.errors = [*form.photo.errors, photo_error]
        valid = False
    form.photo_token.data = " ".join(pending_photo_token(p) for p in photos)
    if voice_error is not None:
        form.voice.errors = [*form.voice.errors, voice_error]
        valid = False
    form.voice_token.data = pending_voice_token(voice) if voice is not None else ""

    category = cached_category(form.category.data or "")
    if valid and category is None:
        form.category.errors = [_l("Hãy chọn loại vụ việc.")]
        valid = False
    if not valid:
        if form.submission_key.errors:
            # The resident cannot repair a hidden key: the form shown again gets a fresh one.
            form.submission_key.data = new_submission_key()
        if wants_json():
            return _form_errors_json(form)
        return _render_form(form, commune, kept_photo=bool(photos), kept_voice=voice), 422

    village = next((v for v in cached_villages(commune) if v.code == form.village.data), None)
    tier = IdentityTier(form.identity_tier.data)
    # The load this post adds, and its puzzle at the load before it: held as possible spam
    # when a flood asked for a puzzle and none came solved (never refused for that alone).
    admission = puzzle.admit(
        _puzzle_field("puzzle"), _puzzle_field("puzzle_answer"), commune.code, client_bucket()
    )
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
        follow_up_code=form.follow_up_code.data,
        held=admission.verdict.held,
    )
    try:
        receipt = submit_tip(draft, alone=True)
    except FormAlreadySent as refused:
        # The key was used for another text: the same page again, with a fresh key.
        db.session.rollback()
        if wants_json():
            return no_store(make_response(jsonify(error=str(refused.message)), 409))
        form.submission_key.errors = [refused.message]
        form.submission_key.data = new_submission_key()
        return _render_form(form, commune, kept_photo=bool(photos), kept_voice=voice), 409
    if voice is not None:
        if receipt.created:
            attach_voice(receipt.tip, voice)
        else:  # a replay: the first post's note (if any) is the tip's
            discard_unattached_voice(voice)
    if receipt.created and form.sms_updates.data:
        subscribe_tip(receipt.tip, draft.phone)  # kept for a confidential or named tip only
    if receipt.created and admission.flood_begins:
        outbox.notify_staff(receipt.tip, FLOOD)  # its commune police, once per window
    _commit_keeping_loaded()
    # Rendered after the commit (on SQLite the write lock is released first) from what
    # the session already holds; should the page fail, a re-post gives the same receipt.
    if wants_json():  # a phone's outbox sending a tip written offline
        return no_store(
            jsonify(
                reference=receipt.tip.reference,
                code=receipt.formatted_code if receipt.code_shown else None,
                created=receipt.created,
                photos=len(receipt.tip.photos),
            )
        )
    page = render_template(
        "public/receipt.html",
        receipt=receipt,
        code_minutes=current_app.config["TIPLINE_RESUBMIT_CODE_MINUTES"],
    )
    return no_store(make_response(page))


# A signed puzzle is about 95 characters and its answer a decimal counter: anything much
# longer is not one (and is not worth checking a signature over).
_PUZZLE_FIELD_MAX = 400


def _puzzle_field(name: str) -> str | None:
    value = request.form.get(name, "")
    return value if 0 < len(value) <= _PUZZLE_FIELD_MAX else None


@bp.get("/gui-tin/cau-do")
@limiter.limit(_limit("TIPLINE_SUBMIT_LIMIT"))
def form_puzzle():
    """The form's script asks, just before it sends, whether a puzzle is needed now.

    `{"puzzle": null, "bits": 0}` at the usual load; during a flood a signed puzzle for
    the commune (`xa`) at the difficulty the load of the commune and of this client calls
    for. Counts nothing: only a post does.
    """
    root = cached_root_unit()
    commune = _chosen_commune(root) if root else None
    if commune is None:
        message = _l("Không tìm thấy xã, phường này. Hãy chọn lại nơi gửi tin.")
        return no_store(make_response(jsonify(error=str(message)), 404))
    bits = puzzle.bits_for(commune.code, client_bucket())
    token = puzzle.issue(commune.code, bits) if bits else None
    return no_store(jsonify(puzzle=token, bits=bits))


def _upload_limit() -> int:
    """Up to MAX_PHOTOS photos at their size limit, plus the form fields."""
    config = current_app.config
    return (
        MAX_PHOTOS * config["TIPLINE_MAX_PHOTO_BYTES"] + config["TIPLINE_VOICE_MAX_BYTES"]
    ) + 256 * 1024


def _form_errors_json(form):
    errors = {f.name: [str(e) for e in f.errors] for f in form if f.errors}
    text = " ".join(f"{form[name].label.text}: {' '.join(msgs)}" for name, msgs in errors.items())
    return no_store(make_response(jsonify(error=text, fields=errors), 422))


def _commit_keeping_loaded() -> None:
    """Commit without expiring what was loaded, so the receipt reads nothing back."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _take_photos(form) -> tuple[list, object]:
    """The uploaded photos cleaned and stored, or those kept from an earlier attempt.

    Returns (photos, error message or None). New photos replace the kept ones; a refused
    photo leaves the others as they are.
    """
    limit = current_app.config["TIPLINE_MAX_PHOTO_BYTES"]
    uploads = [u for u in form.photo.data or [] if getattr(u, "filename", None)]
    error = None
    if len(uploads) > MAX_PHOTOS:
        error = _l("Chỉ gửi được tối đa %(n)d ảnh; %(n)d ảnh đầu đã được giữ lại.", n=MAX_PHOTOS)
        uploads = uploads[:MAX_PHOTOS]
    fresh = []
    for upload in uploads:
        # A chosen but empty file is refused by process_photo, not skipped in silence.
        data = upload.stream.read(limit + 1)
        try:
            processed = process_photo(
                data, max_bytes=limit, max_pixels=current_app.config["TIPLINE_MAX_PHOTO_PIXELS"]
            )
            fresh.append(store_photo(processed))
        except (PhotoError, StorageFull) as refused:
            error = refused.message  # the form comes back with its text kept
    if fresh:
        return fresh, error
    tokens = (getattr(form, "photo_token", None) and form.photo_token.data or "").split()
    kept = [pending_photo(token) for token in tokens[:MAX_PHOTOS]]
    return [p for p in kept if p is not None], error


def _take_voice(form) -> tuple[StoredVoice | None, object]:
    """The uploaded voice note cleaned and stored, or the one kept from an earlier attempt.

    Returns (voice note or None, error message or None). Decoded before any query, as
    photos are; a refused file leaves a kept note as it is.
    """
    config = current_app.config
    upload = form.voice.data
    if getattr(upload, "filename", None):
        limit = config["TIPLINE_VOICE_MAX_BYTES"]
        data = upload.stream.read(limit + 1)
        try:
            cleaned = clean_audio(
                data, max_seconds=config["TIPLINE_VOICE_MAX_SECONDS"], max_bytes=limit
            )
            return store_voice(cleaned), None
        except (AudioError, StorageFull) as refused:
            error = refused.message
    else:
        error = None
    return pending_voice(form.voice_token.data or ""), error


def _chosen_commune(root):
    code = request.args.get("xa", "")
    if not code:
        return None
    commune = cached_unit(code)
    if commune is None or commune.level != UnitLevel.COMMUNE or not root.contains(commune):
        return None
    return commune


def _fill_choices(form: SubmitTipForm, commune) -> None:
    form.village.choices = [(UNKNOWN_VILLAGE, str(_l("Không rõ thôn")))] + [
        (v.code, v.name) for v in cached_villages(commune)
    ]
    form.category.choices = [(c.code, c.label) for c in cached_categories()]


def _render_form(form: SubmitTipForm, commune, kept_photo: bool = False, kept_voice=None):
    _fill_choices(form, commune)
    response = make_response(
        render_template(
            "public/submit.html",
            form=form,
            commune=commune,
            kept_photo=kept_photo,
            kept_voice=kept_voice,
        )
    )
    # The form carries a one-time submission key: never serve it from a cache.
    return no_store(response)


WRONG_RECEIPT = _l("Mã số tin báo hoặc mã tra cứu không đúng.")


@bp.route("/tra-cuu", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(_limit("TIPLINE_FOLLOWUP_LIMIT"), methods=["POST"])
def follow_up():
    form = FollowUpForm()
    if request.method == "POST":
        if form.validate():
            tip = receipt_lookup(form.reference.data, form.code.data)
            if tip is not None:
                response = _status_page(tip, codes=(form.reference.data, form.code.data))
                return start_session(response, tip)
            form.code.errors = [WRONG_RECEIPT]
        return no_store(make_response(render_template("public/follow_up.html", form=form), 422))
    # The receipt's "see the status" link brings the reference, never the code: the code
    # rides in the address's fragment (never sent), which the page's script reads.
    reference = normalize_reference(request.args.get("reference", "")[:40])
    if "code" in request.args:
        # A code typed into the address is not echoed into the page's links (language
        # switch, hreflang): the address is cleaned first, and the browser keeps the clean one.
        target = url_for(".follow_up", **({"reference": reference} if reference else {}))
        return no_store(redirect(target, 303))
    form.reference.data = reference or None
    return render_template("public/follow_up.html", form=form)


def _session_ended(ended: SessionEnded, *, unsent: bool = False):
    if ended.expired:
        message = _l(
            "Phiên tra cứu đã hết hạn (sau %(n)d phút). Hãy nhập lại hai mã để xem tiếp.",
            n=session_minutes(),
        )
    else:
        message = _l("Phiên tra cứu đã kết thúc hoặc chưa bắt đầu. Hãy nhập hai mã để xem tin.")
    page = render_template(
        "public/follow_up.html",
        form=FollowUpForm(formdata=None),
        notice=message,
        unsent=unsent,
    )
    return no_store(end_session(make_response(page, 401)))


SENT_NOTICES = {
    "reply": _l("Đã gửi câu trả lời của bạn."),
    "information": _l("Đã gửi thông tin bổ sung của bạn."),
    "photo": _l("Đã thêm ảnh."),
    "settled": _l("Cảm ơn bạn đã trả lời."),
    "reopened": _l("Cảm ơn bạn. Tin đã được mở lại và chuyển Công an xã xác minh lại."),
    "identity": _l(
        "Đã ghi nhận danh tính của bạn. Từ nay tin được giữ bí mật danh tính: "
        "chỉ Công an xã thấy tên và số điện thoại của bạn."
    ),
    "sms-on": _l("Đã bật tin nhắn SMS cho tin này."),
    "sms-off": _l("Đã tắt tin nhắn SMS cho tin này. Số của bạn không còn được giữ để nhắn tin."),
    "voice": _l("Đã gửi ghi âm của bạn."),
}


@bp.get("/tra-cuu/tin")
def status():
    """The status page within the tipster's session (where its forms come back to)."""
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended)
    notice = SENT_NOTICES.get(request.args.get("da-gui", ""))
    return _status_page(tip, notice=notice)


def _back_to_status(done: str):
    return redirect(url_for(".status", **{"da-gui": done}), code=303)


@bp.post("/tra-cuu/sms")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_MESSAGE_LIMIT"))
def sms_updates():
    """SMS updates on this tip, on or off, to the phone the tipster gave (tipline.alerts)."""
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended, unsent=True)
    if request.form.get("sms") == "off":
        unsubscribe_tip(tip)
        db.session.commit()
        return _back_to_status("sms-off")
    phone = tip.contact.phone if tip.contact is not None else None
    if not sms.available() or subscribe_tip(tip, phone) is None:
        notice = _l("Tin này không nhận được tin nhắn SMS: chỉ tin có tên và số điện thoại.")
        return _status_page(tip, notice=notice, status=422)
    db.session.commit()
    return _back_to_status("sms-on")


@bp.post("/tra-cuu/tin-nhan")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_MESSAGE_LIMIT"))
def send_message():
    """The tipster answers a question or adds information (plain form, no script needed)."""
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended, unsent=True)
    form = MessageForm()
    if not form.validate():
        return _status_page(tip, message_form=form, status=422)
    try:
        workflow.receive_tipster_message(tip, form.body.data, MessageKind(form.kind.data))
    except TiplineError as refused:
        db.session.rollback()
        form.body.errors = [refused.message]
        return _status_page(tip, message_form=form, status=refused.status_code)
    db.session.commit()
    return _back_to_status(form.kind.data)


@bp.post("/tra-cuu/da-giai-quyet")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_MESSAGE_LIMIT"))
def settled_answer():
    """The tipster answers "was it settled?" after closing (tips.settled); "Chưa" reopens."""
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended, unsent=True)
    try:
        answer = settled.answer(tip, request.form.get("answer"), request.form.get("line"))
    except TiplineError as refused:
        db.session.rollback()
        return _status_page(tip, settled_error=refused.message, status=refused.status_code)
    db.session.commit()
    return _back_to_status("reopened" if answer == TipsterAnswer.NOT_DONE else "settled")


@bp.post("/tra-cuu/danh-tinh")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_MESSAGE_LIMIT"))
def reveal():
    """An anonymous tipster gives a name and phone: the tip becomes confidential."""
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended, unsent=True)
    form = RevealForm()
    if not form.validate():
        return _status_page(tip, reveal_form=form, status=422)
    try:
        workflow.reveal_identity(tip, form.name.data, form.phone.data)
    except TiplineError as refused:
        db.session.rollback()
        form.name.errors = [refused.message]
        return _status_page(tip, reveal_form=form, status=refused.status_code)
    db.session.commit()
    return _back_to_status("identity")


@bp.post("/tra-cuu/tin/anh")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_MESSAGE_LIMIT"))
def status_photo():
    """Photos added from the session's status page (a plain form; the codes are not needed)."""
    request.max_content_length = _upload_limit()
    # Who is asking comes first: nobody's photo is decoded or stored without a session.
    # (A read only: with WAL, SQLite writers are not held while the photos are decoded.)
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended, unsent=True)
    photos, error = _take_photos(StatusPhotoForm())
    if error is None and not photos:
        error = _l("Hãy chọn ảnh.")
    if error is None:
        try:
            add_photos(tip, photos)
        except PhotoLimit as refused:
            db.session.rollback()
            error = refused.message
    if error is not None:
        return _status_page(tip, error=error, status=422)
    db.session.commit()
    return _back_to_status("photo")


@bp.post("/tra-cuu/tin/ghi-am")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_MESSAGE_LIMIT"))
def status_voice():
    """A voice note added from the session's status page (recorded there or a file from the
    phone's recorder): cleaned like the tip form's, heard by the same few staff."""
    config = current_app.config
    request.max_content_length = config["TIPLINE_VOICE_MAX_BYTES"] + 256 * 1024
    # Who is asking comes first: nobody's audio is decoded or stored without a session.
    try:
        tip = session_tip()
    except SessionEnded as ended:
        return _session_ended(ended, unsent=True)
    form = StatusVoiceForm()
    if not workflow.accepts_messages(tip):
        error = _l("Tin báo này đã đóng nên không nhận thêm ghi âm.")
        return _status_page(tip, voice_error=error, status=409)
    voice, error = _take_voice(form)
    if error is None and voice is None:
        error = _l("Hãy ghi âm hoặc chọn một tệp ghi âm.")
    if error is None:
        try:
            add_voice(tip, voice)
        except VoiceLimit as refused:
            db.session.rollback()
            voice, error = None, refused.message
    if error is not None:
        kept = pending_voice_token(voice) if voice is not None else ""
        return _status_page(tip, voice_error=error, voice_token=kept, status=422)
    db.session.commit()
    return _back_to_status("voice")


@bp.get("/tra-cuu/anh/<public_id>")
def status_thumbnail(public_id: str):
    """A photo's thumbnail on the tipster's status page (within the session only)."""
    try:
        tip = session_tip()
    except SessionEnded:
        abort(404)
    photo = next((p for p in tip.photos if p.public_id == public_id), None)
    if photo is None:
        abort(404)
    try:
        data = storage_for(current_app).get(photo.thumb_filename)
    except FileNotFoundError:
        abort(404)
    response = make_response(data)
    response.headers["Content-Type"] = "image/jpeg"
    # A shared phone: nothing of the tip stays in the browser's cache.
    return no_store(response)


@bp.post("/tra-cuu/thoat")
@csrf.exempt
def sign_out():
    """End the tipster's session now: on this browser, and every copy of its cookie."""
    try:
        tip = session_tip()
    except SessionEnded:
        pass  # nothing open on the server: the cookie is deleted all the same
    else:
        end_sessions(tip)
        db.session.commit()
    page = render_template(
        "public/follow_up.html",
        form=FollowUpForm(formdata=None),
        notice=_l("Bạn đã thoát. Trình duyệt này không còn mở được tin báo nếu không nhập lại mã."),
    )
    return no_store(end_session(make_response(page)))


def _status_page(
    tip,
    *,
    codes: tuple[str, str] | None = None,
    added=None,
    error=None,
    notice=None,
    message_form=None,
    reveal_form=None,
    settled_error=None,
    voice_error=None,
    voice_token="",
    status=200,
):
    """The tip as its tipster sees it. With `codes` (the page answering the lookup form),
    the photo form carries them for the offline outbox; otherwise it uses the session."""
    photo_form = None
    if codes is not None:
        photo_form = AddPhotoForm(formdata=None, reference=codes[0], code=codes[1])
    else:
        photo_form = StatusPhotoForm(formdata=None)
    if error is not None:
        photo_form.photo.errors = [error]
    messages = public_messages(tip)
    voice_form = StatusVoiceForm(formdata=None, voice_token=voice_token)
    if voice_error is not None:
        voice_form.voice.errors = [voice_error]
    page = render_template(
        "public/status.html",
        tip=tip,
        status=public_status(tip),
        timeline=public_timeline(tip),
        photo_form=photo_form,
        with_codes=codes is not None,
        max_photos=MAX_PHOTOS,
        added=added,
        notice=notice,
        messages=messages,
        open_question=has_open_question(messages),
        asked=_last_question(messages),
        message_form=message_form or MessageForm(formdata=None),
        reveal_form=reveal_form or RevealForm(formdata=None),
        settled=settled.question(tip),
        voice_form=voice_form,
        voice_error=voice_error,
        can_record=request.endpoint in ("public.status", "public.status_voice"),
        voice_count=len(voice_notes(tip)),
        max_voice=MAX_VOICE_NOTES,
        settled_error=settled_error,
        can_write=workflow.accepts_messages(tip),
        can_reveal=tip.identity_tier == IdentityTier.ANONYMOUS and workflow.accepts_messages(tip),
        session_minutes=session_minutes(),
        reply_days=current_app.config["TIPLINE_TIPSTER_REPLY_DAYS"],
    )
    return no_store(make_response(page, status))


def _last_question(messages):
    """The question the tipster is asked to answer (the newest one)."""
    return next((m for m in reversed(messages) if m.kind == MessageKind.QUESTION), None)


@bp.post("/tra-cuu/anh")
@csrf.exempt
@limiter.limit(_limit("TIPLINE_FOLLOWUP_LIMIT"))
def add_photo():
    """Photos the tipster adds later, from the status page (the two codes prove the tip)."""
    request.max_content_length = _upload_limit()
    form = AddPhotoForm()
    # The two codes are checked (through the guard) before any photo is decoded or stored.
    tip = None
    if form.validate():
        tip = receipt_lookup(form.reference.data, form.code.data)
    if tip is None:
        if wants_json():
            return no_store(make_response(jsonify(error=str(WRONG_RECEIPT)), 422))
        lookup = FollowUpForm(formdata=None, reference=form.reference.data)
        lookup.code.errors = [WRONG_RECEIPT]
        return no_store(make_response(render_template("public/follow_up.html", form=lookup), 422))
    photos, error = _take_photos(form)
    if error is None and not photos:
        error = _l("Hãy chọn ảnh.")
    if error is None:
        try:
            added = add_photos(tip, photos)
        except PhotoLimit as refused:
            error = refused.message
    codes = (form.reference.data, form.code.data)
    if error is None:
        db.session.commit()
        if wants_json():
            return no_store(jsonify(reference=tip.reference, added=added, photos=len(tip.photos)))
        return _status_page(tip, codes=codes, added=added)
    if wants_json():
        return no_store(make_response(jsonify(error=str(error)), 422))
    return _status_page(tip, codes=codes, error=error, status=422)


@bp.get("/rieng-tu")
def privacy():
    """What Tipline keeps, who sees it, for how long: figures from the real settings."""
    config = current_app.config
    return render_template(
        "public/privacy.html",
        retention_days=config["TIPLINE_RETENTION_DAYS"],
        retention_photos=config["TIPLINE_RETENTION_PHOTOS"],
        session_minutes=session_minutes(),
        reply_days=config["TIPLINE_TIPSTER_REPLY_DAYS"],
        limiter_on=config.get("RATELIMIT_ENABLED", True),
    )


@bp.get("/favicon.ico")
def favicon():
    response = serve_static("favicon.ico")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
