"""The administrators' pages for partner API keys, under /admin/api-keys.

They live with the API they open (keys, use log, permissions of a key); their URLs stay
under /admin, where administrators find them. Anyone who is not an administrator of some
unit gets a 404, like a missing page.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from tipline.accounts.permissions import admin_units, is_admin_over
from tipline.api.forms import ConfirmForm, PartnerKeyForm
from tipline.api.keys import create_partner_key, keys_query, revoke_partner_key
from tipline.api.models import ApiUse, PartnerKey
from tipline.core.http import no_store
from tipline.extensions import db
from tipline.places.models import Unit
from tipline.places.services import unit_choices

bp = Blueprint("api_keys", __name__)

PAGE_SIZE = 50


@bp.before_request
@login_required
def _administrators_only():
    if not admin_units(current_user):
        abort(404)


@bp.after_request
def _private(response):
    return no_store(response)


def _page() -> int:
    """The page asked for, within bounds (a huge number would overflow the OFFSET)."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)


@bp.get("")
def index():
    page = _page()
    found = db.session.scalars(
        keys_query(current_user).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "admin/api_keys.html", keys=found[:PAGE_SIZE], page=page, more=len(found) > PAGE_SIZE
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = PartnerKeyForm()
    units = unit_choices(admin_units(current_user))
    form.unit.choices = [SelectChoice("", _l("— Chọn —")), *(SelectChoice(*u) for u in units)]
    if form.validate_on_submit():
        unit = db.session.scalar(select(Unit).where(Unit.code == form.unit.data))
        key, secret = create_partner_key(
            current_user,
            name=form.name.data,
            unit=unit,
            may_submit=form.may_submit.data,
            may_read=form.may_read.data,
            may_name=form.may_name.data,
        )
        db.session.commit()
        # The secret is shown once, on this page, never in a URL or a log.
        return render_template("admin/api_key_created.html", key=key, secret=secret)
    status = 422 if form.errors else 200
    return render_template("admin/api_key_new.html", form=form), status


def _managed_key(prefix: str) -> PartnerKey:
    key = db.session.scalar(select(PartnerKey).where(PartnerKey.prefix == prefix[:16]))
    if key is None or not is_admin_over(current_user, key.unit):
        abort(404)
    return key


@bp.get("/<prefix>")
def show(prefix: str):
    key = _managed_key(prefix)
    page = _page()
    uses = db.session.scalars(
        select(ApiUse)
        .where(ApiUse.partner_key_id == key.id)
        .order_by(ApiUse.at.desc(), ApiUse.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "admin/api_key.html",
        key=key,
        uses=uses[:PAGE_SIZE],
        page=page,
        more=len(uses) > PAGE_SIZE,
        confirm=ConfirmForm(),
    )


@bp.post("/<prefix>/revoke")
def revoke(prefix: str):
    key = _managed_key(prefix)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    revoke_partner_key(current_user, key)
    db.session.commit()
    flash(_l("Đã thu hồi khóa API."), "success")
    return redirect(url_for(".show", prefix=key.prefix), 303)
