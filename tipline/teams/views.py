"""The teams registry pages: a commune's committees and teams, their leaders and members."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from tipline.accounts.permissions import can_keep_registry
from tipline.core.http import no_store
from tipline.core.timeutil import local_today
from tipline.extensions import db
from tipline.places.models import Unit
from tipline.places.services import commune_by_code, tree_order
from tipline.teams import services
from tipline.teams.forms import DissolveForm, MemberForm, RemoveMemberForm, TeamForm
from tipline.teams.models import MemberRole, Team, TeamKind

bp = Blueprint("teams", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.after_request
def _private(response):
    return no_store(response)


def _commune(code: str) -> Unit:
    commune = commune_by_code(code)
    if commune is None or not can_keep_registry(current_user, commune):
        abort(404)
    return commune


def _team(public_id: str) -> Team:
    team = db.session.scalar(select(Team).where(Team.public_id == public_id))
    if team is None or not can_keep_registry(current_user, team.commune):
        abort(404)
    return team


@bp.get("/")
def index():
    communes = services.kept_communes(current_user)
    if not communes:
        abort(404)
    if len(communes) == 1:
        return redirect(url_for(".commune", code=communes[0].code))
    return render_template("teams/index.html", communes=communes)


def _unit_choices(commune: Unit) -> list[SelectChoice]:
    units = db.session.scalars(select(Unit).where(commune.subtree_clause(), Unit.active))
    choices = [
        SelectChoice(u.code, ("· " if u.id != commune.id else "") + u.name)
        for u in tree_order(units)
    ]
    return [SelectChoice("", _l("— Chọn —")), *choices]


@bp.route("/<code>", methods=["GET", "POST"])
def commune(code: str):
    place = _commune(code)
    form = TeamForm()
    form.unit.choices = _unit_choices(place)
    status = 200
    if form.validate_on_submit():
        unit = db.session.scalar(select(Unit).where(Unit.code == form.unit.data))
        team = services.add_team(
            current_user,
            place,
            kind=TeamKind(form.kind.data),
            name=form.name.data,
            unit=unit,
            established_on=form.established_on.data,
            leader=form.leader.data,
        )
        db.session.commit()
        flash(_l("Đã thêm vào sổ tổ chức."), "success")
        return redirect(url_for(".team", public_id=team.public_id))
    if form.errors:
        status = 422
    teams = services.teams_of(place)
    return render_template(
        "teams/commune.html",
        commune=place,
        teams=teams,
        active=services.active_counts(teams, local_today()),
        form=form,
        kinds=list(TeamKind),
    ), status


@bp.get("/doi/<public_id>")
def team(public_id: str):
    found = _team(public_id)
    return _team_page(found, MemberForm(), DissolveForm())


def _team_page(team: Team, member_form: MemberForm, dissolve_form: DissolveForm, status=200):
    return render_template(
        "teams/team.html",
        team=team,
        member_form=member_form,
        dissolve_form=dissolve_form,
        remove_form=RemoveMemberForm(),
    ), status


@bp.post("/doi/<public_id>/thanh-vien")
def add_member(public_id: str):
    found = _team(public_id)
    form = MemberForm()
    if not form.validate_on_submit():
        return _team_page(found, form, DissolveForm(), 422)
    services.add_member(
        current_user, found, form.full_name.data, MemberRole(form.role.data), form.phone.data
    )
    db.session.commit()
    return redirect(url_for(".team", public_id=found.public_id))


@bp.post("/doi/<public_id>/thanh-vien/xoa")
def remove_member(public_id: str):
    found = _team(public_id)
    form = RemoveMemberForm()
    member = None
    if form.validate_on_submit() and form.member.data.isdigit():
        member = next((m for m in found.members if m.id == int(form.member.data)), None)
    if member is None:
        abort(404)
    services.remove_member(current_user, member)
    db.session.commit()
    return redirect(url_for(".team", public_id=found.public_id))


@bp.post("/doi/<public_id>/giai-the")
def dissolve(public_id: str):
    found = _team(public_id)
    form = DissolveForm()
    if not form.validate_on_submit():
        return _team_page(found, MemberForm(), form, 422)
    services.dissolve(current_user, found, form.on.data)
    db.session.commit()
    flash(_l("Đã ghi ngày giải thể."), "success")
    return redirect(url_for(".team", public_id=found.public_id))
