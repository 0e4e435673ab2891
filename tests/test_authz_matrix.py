"""Authorization matrix: every route, for a visitor, every role in scope and out of scope.

`RULES` has one line per (endpoint, method) of the app's URL map; a route without a
line fails the suite, and so does a line whose route is gone. To add a route, add one
line with one of the helpers:

    public(200)                         everyone, logged in or not, gets 200
    staff(200)                          anonymous: redirect to login; every account: 200
    staff(200, admin=403)               ... with per-account exceptions
    scoped("tip", 200)                  the URL names a tip: its readers get 200, anyone
                                        else (out of scope, or a role that reads no tips)
                                        the same 404 as for an id that does not exist
    scoped("tip", 303, officer=403, data={...})   per-account exceptions, a POST body

URL arguments come from `ARGS` by name (`public_id` is the tip's, or the photo's for
target "photo"; `code` is commune A, `username` member_a1); give others with
`args={...}`. The world is conftest's: a confidential
tip in village A1 of commune A, with a photo.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field

import pytest
from flask import url_for
from PIL import Image
from werkzeug.routing import IntegerConverter

from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.tips.models import IdentityTier
from tipline.tips.services import store_photo

from .conftest import ACCOUNTS, PASSWORD

LOGIN = "login"  # a redirect to the staff login page

IN_SCOPE = ("member_a1", "leader_a1", "police_a", "committee_a", "officer", "admin")
OUT_OF_SCOPE = ("leader_a2", "leader_b1", "police_b")
USERS = IN_SCOPE + OUT_OF_SCOPE
# Who may read a tip of village A1 (administrators manage units and accounts, not tips).
A1_READERS = frozenset({"member_a1", "leader_a1", "police_a", "committee_a", "officer"})
MISSING = "missing"  # same answer as for an id that does not exist

Expect = int | str


@dataclass(frozen=True)
class Rule:
    anonymous: Expect
    users: dict[str, Expect]
    target: str | None = None  # "tip", "photo" or "voice": the object the URL names
    data: dict = field(default_factory=dict)
    args: dict = field(default_factory=dict)


def public(status: int = 200, *, data: dict | None = None, args: dict | None = None) -> Rule:
    return Rule(status, dict.fromkeys(USERS, status), data=data or {}, args=args or {})


def staff(
    status: Expect = 200,
    *,
    anonymous: Expect = LOGIN,
    data: dict | None = None,
    args: dict | None = None,
    **per_user: Expect,
) -> Rule:
    users = dict.fromkeys(USERS, status) | per_user
    return Rule(anonymous, users, data=data or {}, args=args or {})


TEAM_KEEPERS = frozenset({"committee_a", "police_a", "admin"})


def keepers(status: Expect, **kwargs) -> Rule:
    """Commune A's teams registry: its committee and police, and administrators above."""
    return staff(404, committee_a=status, police_a=status, admin=status, **kwargs)


def managers(status: Expect, *, police_b: Expect | None = None, **kwargs) -> Rule:
    """Account pages: commune police and administrators; 404 for everyone else."""
    answer = status if police_b is None else police_b
    return staff(404, police_a=status, admin=status, police_b=answer, **kwargs)


def scoped(
    target: str,
    status: int,
    *,
    readers: frozenset[str] = A1_READERS,
    data: dict | None = None,
    args: dict | None = None,
    **per_user: Expect,
) -> Rule:
    users = {user: (status if user in readers else MISSING) for user in USERS} | per_user
    return Rule(LOGIN, users, target=target, data=data or {}, args=args or {})


# Who opens the reports' staff pages: their own unit's figures, whatever the tip's place.
REPORT_READERS = dict.fromkeys(("police_a", "committee_a", "officer", "police_b"), 200)

RULES: dict[tuple[str, str], Rule] = {
    # resident pages: no login, the same for everyone
    ("public.index", "GET"): public(200),
    ("public.favicon", "GET"): public(200),
    ("public.submit_start", "GET"): public(200),
    ("public.submit", "POST"): public(422, args={"xa": "A"}),
    ("public.follow_up", "GET"): public(200),
    ("public.follow_up", "POST"): public(422, data={"reference": "TL-AAAA-BBBB", "code": "x"}),
    ("public.add_photo", "POST"): public(422, data={"reference": "TL-AAAA-BBBB", "code": "x"}),
    ("ops.healthz", "GET"): public(200),
    ("static", "GET"): public(200),
    ("web.manifest", "GET"): public(200),
    ("web.robots", "GET"): public(200),
    ("web.service_worker", "GET"): public(200),
    # staff
    ("staff.login", "GET"): staff(302, anonymous=200),
    ("staff.login", "POST"): staff(302, anonymous=401, data={"username": "x", "password": "y"}),
    ("staff.logout", "POST"): staff(302),
    ("staff.inbox", "GET"): staff(200),
    # a village team's own page (issue 17); everyone's account page
    ("staff.village_home", "GET"): staff(
        403, member_a1=200, leader_a1=200, leader_a2=200, leader_b1=200
    ),
    ("staff.my_account", "GET"): staff(200),
    ("staff.tip_detail", "GET"): scoped("tip", 200),
    # a voice note (issue 21): a confidential tip's is heard by the commune police only
    ("staff.voice_note", "GET"): scoped("voice", 200, readers=frozenset({"police_a"})),
    ("staff.act", "POST"): scoped("tip", 400, data={"action": "", "version": "1"}),
    ("staff.add_note", "POST"): scoped("tip", 303, officer=403, data={"body": "Đã gọi lại"}),
    ("staff.identity", "POST"): scoped("tip", 403, police_a=200),
    ("staff.photo", "GET"): scoped("photo", 200, args={"size": "thumb"}),
    # staff triage (issue 7)
    ("staff.assign", "POST"): scoped(
        "tip", 409, member_a1=403, officer=403, data={"assignee": "", "version": "1"}
    ),
    ("staff.set_priority", "POST"): scoped(
        "tip", 409, officer=403, data={"priority": "normal", "version": "1"}
    ),
    ("staff.bulk", "POST"): staff(303, data={"operation": "spam"}),
    # held tips (issue 21): the view lists the held tips one reads (none: an empty page);
    # a bulk post naming no tip is a 400; "not spam" is for those who may reject the tip
    # (the scene's tip is not held: 409 for them)
    ("staff.held_view", "GET"): staff(200),
    ("staff.held_bulk", "POST"): staff(400, data={"operation": "spam"}),
    ("staff.release", "POST"): scoped("tip", 409, member_a1=403, officer=403),
    ("staff.record", "GET"): staff(200, officer=403, admin=403),
    ("staff.record", "POST"): staff(400, officer=403, admin=403, data={"source": ""}),
    ("staff.print_record", "GET"): scoped("tip", 200),
    ("staff.print_record", "POST"): scoped("tip", 403, police_a=200),
    ("staff.response_templates", "GET"): staff(403, police_a=200, committee_a=200, police_b=200),
    ("staff.response_templates", "POST"): staff(
        403, police_a=400, committee_a=400, police_b=400, data={"title": ""}
    ),
    ("staff.delete_template", "POST"): staff(404, data={"template": "0"}),
    ("staff.notification_settings", "GET"): staff(200),
    # posters (issue 20): commune A's staff, those above it, and A's village teams (their
    # own village's only)
    ("posters.index", "GET"): staff(200, leader_a2=200, leader_b1=200, police_b=200),
    ("posters.document", "GET"): staff(
        200, args={"code": "A"}, leader_b1=404, police_b=404, admin=200
    ),
    # SMS intake (issue 20): the gateway's webhook (signed, no account), administrators'
    # registry of gateways
    ("sms_intake.webhook", "POST"): public(415, args={"public_id": "no-such-gateway"}),
    ("sms_gateways.index", "GET"): staff(404, admin=200),
    ("sms_gateways.index", "POST"): staff(404, admin=400, data={"unit": "X"}),
    ("sms_gateways.turn_off", "POST"): staff(404, args={"public_id": "no-such-gateway"}),
    # alerts (issue 16)
    ("alerts.index", "GET"): staff(200),
    ("alerts.read_all", "POST"): staff(303),
    ("alerts.test", "POST"): staff(303),
    # alerts that could not be sent: administrators only (others: no such page)
    ("alerts_admin.dead_letters", "GET"): staff(404, admin=200),
    ("alerts_admin.retry", "POST"): staff(404, admin=303, data={"delivery": "all"}),
    # a staff member's own SMS number (issue 16); no SMS gateway in this world
    ("sms.page", "GET"): staff(200),
    ("sms.add", "POST"): staff(422, data={"sms-phone": "x"}),  # not a phone number
    ("sms.verify", "POST"): staff(422, data={"sms-code": "123456"}),  # no code waiting
    ("sms.resend", "POST"): staff(422),  # no number waiting
    ("sms.remove", "POST"): staff(302),
    ("staff.notification_settings", "POST"): staff(400, data={"email": "x"}),
    # one's own account (issue 9)
    ("account.password", "GET"): staff(200),
    ("account.password", "POST"): staff(422, data={"current": "x"}),
    ("account.two_factor", "GET"): staff(200),
    ("account.two_factor", "POST"): staff(422, data={"code": "123456"}),
    ("account.disable_two_factor", "POST"): staff(422, data={"password": "x"}),
    ("account.second_factor", "GET"): staff(LOGIN),
    ("account.second_factor", "POST"): staff(LOGIN, data={"code": "123456"}),
    # administration (issue 9): member_a1 is in police_a's and admin's reach
    ("admin.index", "GET"): managers(302),
    ("admin.users", "GET"): managers(200),
    ("admin.new_user", "GET"): managers(200),
    ("admin.new_user", "POST"): managers(422, data={"username": "x"}),
    ("admin.user", "GET"): managers(200, police_b=404, args={"username": "member_a1"}),
    ("admin.add_role", "POST"): managers(
        422, police_b=404, args={"username": "member_a1"}, data={"role": "x"}
    ),
    ("admin.revoke_role", "POST"): managers(
        303, police_b=404, args={"username": "member_a1"}, data={"role": "x"}
    ),
    ("admin.toggle_active", "POST"): managers(302, police_b=404, args={"username": "member_a1"}),
    ("admin.new_password", "POST"): managers(200, police_b=404, args={"username": "member_a1"}),
    ("admin.audit_log", "GET"): staff(404, admin=200),
    ("admin.identity_log", "GET"): staff(404, police_a=200, police_b=200),
    ("admin.categories", "GET"): staff(404, admin=200),
    ("admin.add_category", "POST"): staff(404, admin=422, data={"code": ""}),
    ("admin.category", "GET"): staff(404, admin=200, args={"code": "theft"}),
    ("admin.category", "POST"): staff(404, admin=422, args={"code": "theft"}, data={"name": ""}),
    ("admin.toggle_category", "POST"): staff(404, admin=302, args={"code": "theft"}),
    ("admin.villages", "GET"): staff(404, admin=200, args={"code": "A"}),
    # how a unit's documents are headed and signed (issue 17): administrators only
    ("admin.letterhead", "GET"): staff(404, admin=200, args={"unit": "A"}),
    ("admin.letterhead", "POST"): staff(404, admin=422, args={"unit": "A"}, data={"body": ""}),
    ("admin.villages", "POST"): staff(404, admin=422, args={"code": "A"}),
    ("admin.villages_confirm", "POST"): staff(404, admin=302, args={"code": "A"}),
    # the teams registry (issue 9): kept by commune committee, police and administrators
    ("teams.index", "GET"): staff(404, committee_a=302, police_a=302, police_b=302, admin=200),
    ("teams.commune", "GET"): keepers(200, args={"code": "A"}),
    ("teams.commune", "POST"): keepers(422, args={"code": "A"}, data={"name": ""}),
    ("teams.team", "GET"): scoped("team", 200, readers=TEAM_KEEPERS),
    ("teams.add_member", "POST"): scoped("team", 422, readers=TEAM_KEEPERS, data={"full_name": ""}),
    ("teams.remove_member", "POST"): scoped(
        "team", 404, readers=TEAM_KEEPERS, data={"member": "0"}
    ),
    ("teams.dissolve", "POST"): scoped("team", 422, readers=TEAM_KEEPERS, data={"on": "x"}),
    # reports (issue 8): public figures; dashboards for commune police, committees, officers
    ("reports_public.figures", "GET"): public(200),
    ("reports.dashboard", "GET"): staff(403, **REPORT_READERS),
    ("reports.export_csv", "GET"): staff(403, **REPORT_READERS),
    ("reports.export_xlsx", "GET"): staff(403, **REPORT_READERS),
    ("reports.export_csv", "POST"): staff(403, **REPORT_READERS),
    ("reports.export_xlsx", "POST"): staff(403, **REPORT_READERS),
    ("reports.review", "GET"): staff(403, **REPORT_READERS),
    ("reports.review_xlsx", "GET"): staff(403, **REPORT_READERS),
    ("reports.review_pdf", "GET"): staff(403, **REPORT_READERS),
    ("reports.review_docx", "GET"): staff(403, **REPORT_READERS),
    ("reports.indicators", "GET"): staff(403, committee_a=200),
    ("reports.indicators", "POST"): staff(403, committee_a=400, data={"commune": ""}),
    # --- rules: tipster messages, reveal, privacy page (issue 5) ---
    # Without the tipster's session cookie (staff have none): the "session ended" page.
    ("public.status", "GET"): public(401),
    ("public.send_message", "POST"): public(401, data={"body": "Tôi thấy thêm", "kind": "reply"}),
    ("public.reveal", "POST"): public(401, data={"name": "A", "phone": "0912345678"}),
    ("public.sms_updates", "POST"): public(401, data={"sms": "on"}),  # no tipster session
    ("public.settled_answer", "POST"): public(401, data={"answer": "done"}),
    ("public.status_photo", "POST"): public(401),
    # issue 21: a voice note from the status page (the tipster's session first), and the
    # form's puzzle (anyone; the same answer for everyone at the usual load)
    ("public.status_voice", "POST"): public(401),
    ("public.form_puzzle", "GET"): public(200, args={"xa": "A"}),
    # a photo's thumbnail on the status page: only within the tipster's session (issue 17)
    ("public.status_thumbnail", "GET"): Rule(404, dict.fromkeys(USERS, 404), target="photo"),
    ("public.sign_out", "POST"): public(200),
    ("public.privacy", "GET"): public(200),
    ("staff.send_message", "POST"): scoped(
        "tip", 303, officer=403, data={"body": "Anh/chị thấy lúc mấy giờ?", "kind": "question"}
    ),
    # --- rules: Web Push (issue 16): staff devices, a resident's opt-in ---
    ("push.staff_worker", "GET"): public(200),
    ("push.staff_subscribe", "POST"): staff(400),  # a form body, not the JSON expected
    ("push.staff_unsubscribe", "DELETE"): staff(400),
    ("push.staff_remove_device", "POST"): staff(303, data={"device": "x"}),
    ("push.staff_test_device", "POST"): staff(303, data={"device": "x"}),
    ("push.tip_worker", "GET"): public(200, args={"scope": "0" * 32}),
    ("push.tip_subscribe", "POST"): public(400),
    ("push.tip_unsubscribe", "DELETE"): public(400),
    # --- rules: API (issue 10) ---
    # Header credentials only: a session cookie opens nothing, so every account gets what
    # an anonymous client gets (a 403 where Open311 needs a key, a 401 where the staff API
    # needs a token), even for a real tip.
    ("open311.discovery", "GET"): public(200, args={"fmt": "json"}),
    ("open311.services", "GET"): public(200, args={"fmt": "xml"}),
    ("open311.service_definition", "GET"): public(
        200, args={"fmt": "json", "service_code": "theft"}
    ),
    ("open311.list_requests", "GET"): public(403, args={"fmt": "json"}),
    # GeoReport v2: a missing key is a 403; a token needs no key (unknown: 404).
    ("open311.create_request", "POST"): public(
        403, args={"fmt": "json"}, data={"service_code": "theft"}
    ),
    ("open311.get_request", "GET"): public(404, args={"fmt": "json", "reference": "TL-AAAA-BBBB"}),
    ("open311.get_token", "GET"): public(404, args={"fmt": "json", "token": "abcdefgh12"}),
    ("api_docs.openapi_json", "GET"): public(200),
    ("api_v1.create_token", "POST"): public(400, data={"username": "police_a"}),
    ("api_v1.revoke_token", "DELETE"): public(401),
    ("api_v1.list_tips", "GET"): public(401),
    ("api_v1.get_tip", "GET"): Rule(401, dict.fromkeys(USERS, 401), target="tip"),
    ("api_v1.act", "POST"): Rule(
        401, dict.fromkeys(USERS, 401), target="tip", data={"action": "triage", "version": "1"}
    ),
    # partner keys: administrators only (404 for everyone else, like every admin page)
    ("api_keys.index", "GET"): staff(404, admin=200),
    ("api_keys.new", "GET"): staff(404, admin=200),
    ("api_keys.new", "POST"): staff(404, admin=422, data={"name": ""}),
    ("api_keys.show", "GET"): staff(404, args={"prefix": "000000000000"}),
    ("api_keys.revoke", "POST"): staff(404, args={"prefix": "000000000000"}),
}

# Values of URL arguments by name (a rule's args= wins); public_id depends on its target.
ARGS = {"filename": "tipline.css", "code": "A", "username": "member_a1"}


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 150), (90, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def scene(world, make_tip):
    """A confidential tip of village A1 with a photo; the public ids the URLs use."""
    photo = store_photo(process_photo(_jpeg()))
    tip = make_tip(
        world.a1,
        identity_tier=IdentityTier.CONFIDENTIAL,
        name="Nguyễn Văn Bí Mật",
        phone="0912345678",
        photos=[photo],
    )
    from tipline.teams.models import Team, TeamKind

    team = Team(
        commune=world.commune_a, unit=world.a1, kind=TeamKind.PATROL_TEAM, name="Tổ tuần tra"
    )
    db.session.add(team)
    from tipline.media.audio import clean_audio
    from tipline.tips.voice import attach_voice, store_voice

    from .audio_samples import encode

    voice = attach_voice(
        tip, store_voice(clean_audio(encode("wav", "pcm_s16le"), max_seconds=120, max_bytes=10**7))
    )
    db.session.commit()
    return {
        "voice": voice.public_id,
        "tip": tip.public_id,
        "photo": tip.photos[0].public_id,
        "tip_id": tip.id,
        "team": team.public_id,
    }


def _methods(rule) -> set[str]:
    return set(rule.methods) - {"HEAD", "OPTIONS"}


def test_every_route_has_a_rule_and_every_rule_a_route(app):
    routes = {(r.endpoint, m) for r in app.url_map.iter_rules() for m in _methods(r)}
    assert sorted(routes - RULES.keys()) == [], "routes without a rule in RULES"
    assert sorted(RULES.keys() - routes) == [], "rules for routes that no longer exist"


def test_no_route_takes_a_sequential_id(app):
    """Ids in URLs are random public ids, never row numbers or references."""
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            assert not isinstance(converter, IntegerConverter), (rule.rule, name)
            if name.endswith("id"):
                assert name == "public_id", (rule.rule, name)


def _url(app, endpoint: str, rule: Rule, scene: dict, *, missing: bool = False) -> str:
    werkzeug_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {}
    for name in werkzeug_rule.arguments:
        if name in rule.args:
            values[name] = rule.args[name]
        elif name == "public_id":
            assert rule.target in scene, f"{endpoint}: scoped(target=...) needed"
            values[name] = secrets.token_urlsafe(12) if missing else scene[rule.target]
        elif name in ARGS:
            values[name] = ARGS[name]
        else:
            pytest.fail(f"{endpoint}: give the URL argument {name!r} with args={{...}}")
    extra = {k: v for k, v in rule.args.items() if k not in werkzeug_rule.arguments}
    with app.test_request_context():
        return url_for(endpoint, **values, **extra)


def _id_in(missing_url: str, url: str) -> str:
    """The random id that replaced the real one in missing_url."""
    for part, real in zip(missing_url.split("/"), url.split("/"), strict=True):
        if part != real:
            return part
    raise AssertionError("the URL has no id to replace")


def _client(app, user: str | None):
    client = app.test_client()
    if user is not None:
        response = client.post("/staff/login", data={"username": user, "password": PASSWORD})
        assert response.status_code == 302, user
    return client


def _send(client, method: str, url: str, rule: Rule):
    response = client.open(url, method=method, data=rule.data or None)
    response.get_data()
    response.close()  # files sent from disk are closed, not left to the garbage collector
    return response


def _matches(response, expected: Expect) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and "/staff/login" in response.location
    if expected == MISSING:
        return response.status_code == 404
    return response.status_code == expected


CELLS: list[int] = []  # filled as the matrix runs; docs/SECURITY.md quotes the total


@pytest.mark.parametrize(("endpoint", "method"), list(RULES), ids=[f"{e} {m}" for e, m in RULES])
def test_matrix(app, world, scene, endpoint, method):
    rule = RULES[(endpoint, method)]
    url = _url(app, endpoint, rule, scene)
    wrong = []
    expectations = {None: rule.anonymous, **rule.users}
    assert set(rule.users) == set(USERS), f"{endpoint}: a rule must name every account"
    for user, expected in expectations.items():
        response = _send(_client(app, user), method, url, rule)
        CELLS.append(1)
        if not _matches(response, expected):
            wrong.append((user or "anonymous", expected, response.status_code))
        if expected == MISSING:
            # Out of scope looks exactly like "no such id": same status, same page.
            missing_url = _url(app, endpoint, rule, scene, missing=True)
            missing = _send(_client(app, user), method, missing_url, rule)
            CELLS.append(1)
            # Pages link to their own address (language switch): compare without the id.
            seen = response.get_data(as_text=True).replace(scene[rule.target], "<id>")
            absent = missing.get_data(as_text=True).replace(_id_in(missing_url, url), "<id>")
            if (missing.status_code, absent) != (response.status_code, seen):
                wrong.append((user, "same 404 as a missing id", missing.status_code))
    assert wrong == [], f"{method} {url}: (who, expected, got) {wrong}"


def test_matrix_names_every_account_of_the_world():
    assert set(USERS) == set(ACCOUNTS)


def test_row_numbers_and_references_do_not_open_a_tip(app, world, make_tip, scene):
    from tipline.extensions import db
    from tipline.tips.models import Tip

    tip = db.session.get(Tip, scene["tip_id"])
    assert len(tip.public_id) >= 16 and tip.public_id not in (str(tip.id), tip.reference)
    police = _client(app, "police_a")
    assert police.get(f"/staff/tips/{tip.public_id}").status_code == 200
    for guess in (str(tip.id), tip.reference, str(tip.id + 1), "1", "../1"):
        assert police.get(f"/staff/tips/{guess}").status_code == 404, guess
        assert police.get(f"/staff/photos/{guess}/thumb").status_code == 404, guess
    # Public ids are not in sequence: two tips in a row share no prefix worth guessing from.
    other = make_tip(world.a1)
    assert other.public_id[:6] != tip.public_id[:6]
