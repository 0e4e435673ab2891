"""Posters and cards for a commune's villages (/staff/ap-phich): one PDF to print."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tipline.accounts.permissions import poster_communes, poster_villages
from tipline.core.errors import TiplineError
from tipline.core.http import no_store
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import villages_of
from tipline.posters import pdf
from tipline.posters.lines import sms_line

bp = Blueprint("posters", __name__)

KINDS = {"a4": pdf.posters_pdf, "the": pdf.cards_pdf}


def form_link(commune: Unit, village: Unit) -> str:
    """The tip form with this commune and village chosen: the unit codes, nothing else."""
    base = current_app.config["TIPLINE_BASE_URL"].rstrip("/")
    return f"{base}/gui-tin?{urlencode({'xa': commune.code, 'thon': village.code})}"


def _commune_or_404(code: str) -> Unit:
    commune = db.session.scalar(
        select(Unit).where(Unit.code == code, Unit.level == UnitLevel.COMMUNE, Unit.active)
    )
    if commune is None or not poster_villages(current_user, commune, villages_of(commune)):
        abort(404)
    return commune


@bp.get("/")
@login_required
def index():
    communes = poster_communes(current_user)
    if not communes:
        abort(404)
    chosen = None
    code = request.args.get("xa", "")
    if code:
        chosen = _commune_or_404(code[:40])
    elif len(communes) == 1:
        chosen = communes[0]
    villages = poster_villages(current_user, chosen, villages_of(chosen)) if chosen else []
    line = sms_line(chosen) if chosen else None
    return render_template(
        "posters/index.html",
        communes=communes,
        chosen=chosen,
        villages=villages,
        line=line,
        fonts=pdf.font_files() is not None,
    )


@bp.get("/<code>.pdf")
@login_required
def document(code: str):
    commune = _commune_or_404(code[:40])
    kind = request.args.get("kieu", "a4")
    if kind not in KINDS:
        raise TiplineError(_("Kiểu in không đúng: chọn áp phích A4 hoặc thẻ phát tay."))
    villages = poster_villages(current_user, commune, villages_of(commune))
    wanted = request.args.get("thon")
    if wanted is not None:
        villages = [village for village in villages if village.code == wanted]
        if not villages:
            abort(404)
    if pdf.font_files() is None:
        raise TiplineError(_("Máy chủ chưa có phông chữ tiếng Việt để in áp phích."))
    line = sms_line(commune)
    posters = [
        pdf.Poster(
            village=village.name,
            commune=commune.name,
            link=form_link(commune, village),
            sms_number=line.display if line else None,
            sms_hint=line.hint if line else None,
        )
        for village in villages
    ]
    title = _("Áp phích báo tin: %(name)s", name=commune.name)
    data = KINDS[kind](posters, title=title)
    response = current_app.response_class(data, mimetype="application/pdf")
    name = f"ap-phich-{commune.code}{'-the' if kind == 'the' else ''}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return no_store(response)
