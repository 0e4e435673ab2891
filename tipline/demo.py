"""Demo data: Thanh Hóa's real communes, generated villages, one account per role, and a
year of tips whose totals reproduce the provincial review (2,967 received, 2,655 settled).

Everything goes through the same services and workflow as real use, so the counters
are the workflow's own. Running it again changes nothing: units, categories and users
are looked up by code, and every demo tip has a fixed submission key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from tipline.accounts.models import Role, User, password_hasher
from tipline.accounts.permissions import acting_roles
from tipline.accounts.services import create_user, grant, user_by_username
from tipline.core.timeutil import local_to_utc, local_today, months_back, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import get_or_add_unit
from tipline.reports.figures import unit_figures
from tipline.reports.indicators import store_indicator
from tipline.reports.periods import LAST_12, parse_period
from tipline.tips import workflow
from tipline.tips.models import (
    Category,
    IdentityTier,
    MessageKind,
    Outcome,
    Priority,
    RejectReason,
    ResponseTemplate,
    Tip,
)
from tipline.tips.services import TipDraft, submit_tip
from tipline.tips.workflow import Action

PROVINCE_CODE = "38"  # Thanh Hóa
RECEIVED_TOTAL = 2967
SETTLED_TOTAL = 2655
DUPLICATES = 84
REJECTED = 61
DEMO_PASSWORD = "tipline-demo"  # printed on purpose: demo accounts only  # noqa: S105  # nosec B105

CATEGORIES = [
    ("theft", "Trộm cắp tài sản", "Theft of property"),
    ("drugs", "Ma túy", "Drugs"),
    ("gambling", "Cờ bạc, lô đề", "Gambling, illegal lottery"),
    ("disturbance", "Đánh nhau, gây rối trật tự", "Fighting, disturbing public order"),
    ("domestic_violence", "Bạo lực gia đình", "Domestic violence"),
    ("suspicious", "Người, phương tiện khả nghi", "Suspicious people or vehicles"),
    ("traffic", "An toàn giao thông", "Road safety"),
    ("fire", "Nguy cơ cháy, nổ", "Fire and explosion hazards"),
    ("social_evils", "Tệ nạn xã hội", "Social evils"),
    ("other", "Khác", "Other"),
]
# Rough shares of each category among tips (theft and disputes lead).
CATEGORY_WEIGHTS = [24, 9, 10, 16, 7, 11, 8, 4, 6, 5]

VILLAGE_WORDS = [
    "Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Tân", "Phú", "Thọ", "Yên",
    "Hòa", "Bình", "An", "Phúc", "Lộc", "Quang", "Minh", "Thành", "Hưng", "Vinh", "Xuân",
    "Thịnh", "Cát", "Đồng", "Sơn", "Hải", "Long", "Mỹ", "Nghĩa",
]  # fmt: skip
MOUNTAIN_WORDS = ["Mường", "Khò", "Cha", "Lặn", "Piềng", "Na", "Hón", "Chiềng", "Poọng", "Đanh"]

DESCRIPTIONS = {
    "theft": [
        "Mất trộm xe máy để trước cửa nhà vào ban đêm.",
        "Có người lạ trèo tường vào vườn bắt trộm gà.",
        "Bị móc túi lấy điện thoại khi đi chợ phiên.",
    ],
    "drugs": [
        "Nghi có nhóm thanh niên tụ tập sử dụng ma túy ở khu nhà bỏ hoang.",
        "Thấy người lạ hay qua lại trao đổi gói nhỏ ở đầu ngõ lúc tối muộn.",
    ],
    "gambling": [
        "Có chiếu bạc họp thường xuyên ở lán gần bờ sông.",
        "Nghi có người ghi lô đề tại quán nước đầu thôn.",
    ],
    "disturbance": [
        "Hai nhóm thanh niên cãi nhau, đánh nhau sau đám cưới.",
        "Hàng xóm tranh chấp lối đi, lời qua tiếng lại nhiều ngày.",
        "Hát karaoke quá to sau 23 giờ, ảnh hưởng cả xóm.",
    ],
    "domestic_violence": [
        "Nghe tiếng la hét, đánh đập trong một gia đình nhiều đêm liền.",
    ],
    "suspicious": [
        "Xe ô tô lạ đỗ lâu ở đầu thôn, người trên xe dò hỏi nhà có người già ở một mình.",
        "Có người lạ đi thu mua phế liệu, nhìn ngó vào các nhà.",
    ],
    "traffic": [
        "Thanh niên đua xe, lạng lách trên đường liên xã vào buổi tối.",
        "Xe tải chở vật liệu làm rơi đất đá ra đường gây trơn trượt.",
    ],
    "fire": [
        "Đốt rơm rạ sát đường dây điện, nguy cơ cháy lan.",
        "Cơ sở bán xăng lẻ không có thiết bị phòng cháy.",
    ],
    "social_evils": [
        "Quán karaoke có dấu hiệu hoạt động mại dâm trá hình.",
        "Có người cho vay nặng lãi, đòi nợ bằng cách ném chất bẩn vào nhà.",
    ],
    "other": [
        "Cột điện nghiêng sau bão, nguy hiểm cho người qua lại.",
        "Có người tự xưng cán bộ đi thu tiền không có giấy tờ.",
    ],
}

OUTCOME_WEIGHTS = [
    (Outcome.MEDIATED, 24),
    (Outcome.WARNED, 30),
    (Outcome.RECORDED, 26),
    (Outcome.SANCTIONED, 10),
    (Outcome.CRIMINAL_REFERRAL, 4),
    (Outcome.SURRENDERED, 1),
    (Outcome.OTHER, 5),
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role: Role
    where: str  # "village", "commune" or "province"


ACCOUNTS = [
    DemoAccount("tovien", "Lê Văn Tổ Viên", Role.TEAM_MEMBER, "village"),
    DemoAccount("totruong", "Nguyễn Văn Tổ Trưởng", Role.VILLAGE_LEADER, "village"),
    DemoAccount("congan", "Trần Thị Công An", Role.COMMUNE_POLICE, "commune"),
    DemoAccount("bandaoxa", "Phạm Văn Ban Chỉ Đạo", Role.COMMUNE_COMMITTEE, "commune"),
    DemoAccount("tinh", "Hoàng Văn Công An Tỉnh", Role.OFFICER, "province"),
    DemoAccount("quantri", "Đỗ Thị Quản Trị", Role.ADMIN, "province"),
]


def seed_categories() -> list[Category]:
    categories = []
    for order, (code, name, english) in enumerate(CATEGORIES):
        category = db.session.scalar(select(Category).where(Category.code == code))
        if category is None:
            category = Category(code=code, name=name, name_en=english, sort_order=order)
            db.session.add(category)
        elif category.name_en is None:  # an administrator's own English name stays
            category.name_en = english
        categories.append(category)
    db.session.flush()
    return categories


def import_province(province_code: str = PROVINCE_CODE) -> Unit:
    """The province and its communes, from the maintained `vietnam-provinces` package."""
    from vietnam_provinces import Province, ProvinceCode, Ward

    code = ProvinceCode(int(province_code))
    province = Province.from_code(code)
    root = get_or_add_unit(
        code=str(int(province.code)),
        name=province.name,
        level=UnitLevel.PROVINCE,
        kind=province.division_type.value,
    )
    for ward in Ward.iter_by_province(code):
        get_or_add_unit(
            code=str(int(ward.code)),
            name=ward.name,
            level=UnitLevel.COMMUNE,
            kind=ward.division_type.value,
            parent=root,
        )
    return root


def generate_villages(root: Unit, rng: random.Random) -> None:
    """Invent villages for each commune (real ones come from each commune's CSV)."""
    communes = db.session.scalars(
        select(Unit).where(Unit.parent_id == root.id).order_by(Unit.code)
    ).all()
    for commune in communes:
        ward = commune.kind == "phường"
        count = rng.randint(4, 9)
        names: list[tuple[str, str]] = []
        for number in range(1, count + 1):
            if ward:
                names.append(("tổ dân phố", f"Tổ dân phố {number}"))
            elif rng.random() < 0.15:
                names.append(("bản", f"Bản {rng.choice(MOUNTAIN_WORDS)} {number}"))
            elif rng.random() < 0.5:
                names.append(("thôn", f"Thôn {number}"))
            else:
                first, second = rng.sample(VILLAGE_WORDS, 2)
                names.append(("thôn", f"Thôn {first} {second}"))
        for number, (kind, name) in enumerate(names, start=1):
            get_or_add_unit(
                code=f"{commune.code}-{number:02d}",
                name=name,
                level=UnitLevel.VILLAGE,
                kind=kind,
                parent=commune,
            )


def demo_accounts(root: Unit, commune: Unit, village: Unit) -> list[tuple[DemoAccount, User]]:
    places = {"village": village, "commune": commune, "province": root}
    made = []
    for account in ACCOUNTS:
        user = user_by_username(account.username)
        if user is None:
            user = create_user(account.username, account.full_name, DEMO_PASSWORD)
        grant(user, account.role, places[account.where])
        made.append((account, user))
    return made


def existing_accounts() -> list[tuple[DemoAccount, User | None]]:
    return [(account, user_by_username(account.username)) for account in ACCOUNTS]


def _commune_officer(commune: Unit, password_hash: str) -> User:
    """A police account for each other commune, so every demo event has a real actor."""
    username = f"ca{commune.code}"
    user = user_by_username(username)
    if user is None:
        user = User(
            username=username,
            full_name=f"Công an {commune.name}",
            password_hash=password_hash,
            active=False,
        )
        db.session.add(user)
        db.session.flush()
    grant(user, Role.COMMUNE_POLICE, commune)
    return user


def build(*, seed: int = 2655, today=None, echo=print) -> dict:
    """Build (or complete) the demo; returns what it did."""
    rng = random.Random(seed)
    seed_categories()
    root = import_province()
    generate_villages(root, rng)
    communes = db.session.scalars(
        select(Unit).where(Unit.parent_id == root.id).order_by(Unit.code)
    ).all()
    focus = communes[0]
    focus_villages = [c for c in focus.children if c.level == UnitLevel.VILLAGE]
    accounts = demo_accounts(root, focus, focus_villages[0])
    users = {account.username: user for account, user in accounts}

    # One hash of a password nobody knows serves every generated (inactive) account.
    unusable = password_hasher().hash(rng.randbytes(16).hex())
    officers = {c.id: _commune_officer(c, unusable) for c in communes}
    officers[focus.id] = users["congan"]
    created = _make_tips(rng, communes, focus, users, officers, today or local_today())
    echo(f"Demo tips created: {created}." if created else "Demo tips already present.")
    if created:
        touched = _triage_touches(rng, focus, users, today or local_today())
        echo(f"Demo triage: {touched} tips of {focus.name} assigned, prioritised or asked about.")
        forgotten = _forget_old_alerts(today or local_today())
        echo(f"Demo alerts older than {ALERT_DAYS} days dropped: {forgotten}.")
    period = enter_review_indicators(root, communes, today or local_today())
    echo(f"Review indicators entered for {period.start:%d/%m/%Y}–{period.end:%d/%m/%Y}.")
    return {"tips_created": created, "accounts": accounts, "review_period": period}


# A year of tips is made in one go, and each queued its alerts: left as they are, the
# demo's phones would wake to hundreds of them at once. Those older than two weeks went out
# long ago; the last two weeks' stay (a commune gets a tip every day or two), for the
# worker to send and the alerts page to show.
ALERT_DAYS = 14


def _forget_old_alerts(today) -> int:
    from sqlalchemy import delete

    from tipline.alerts.models import Notification

    cutoff = local_to_utc(today - timedelta(days=ALERT_DAYS))
    result = db.session.execute(
        delete(Notification)
        .where(Notification.created_at < cutoff, Notification.fanned_out_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


# The seed's figures that are not tips, in DOMAIN.md's order; the demo enters them as the
# communes' indicators so that its review reproduces the seed.
SEED_INDICATORS = {
    "steering_committees": 634,
    "protection_teams": 5882,
    "social_security_teams": 34891,
    "patrol_teams": 488,
    "mediation_teams": 4327,
    "self_managed_areas": 4508,
    "people_managed": 1164,
    "people_improved": 396,
}
# "gần 700" mediations and 27 surrenders: totals of entered figures and tips' outcomes.
SEED_MEDIATED = 697
SEED_SURRENDERED = 27


def enter_review_indicators(root: Unit, communes: list[Unit], today):
    """Spread the seed's non-tip figures over the communes for the demo's year."""
    period = parse_period(LAST_12, today)
    tips = unit_figures(root, period)[0]
    totals = dict(SEED_INDICATORS)
    totals["disputes_mediated"] = max(
        0, SEED_MEDIATED - tips.outcomes.get(Outcome.MEDIATED.value, 0)
    )
    totals["wanted_surrendered"] = max(
        0, SEED_SURRENDERED - tips.outcomes.get(Outcome.SURRENDERED.value, 0)
    )
    weights_rng = random.Random(634)
    weights = [weights_rng.uniform(0.5, 1.5) for _ in communes]
    shares = {name: _apportion(total, weights) for name, total in totals.items()}
    # Improved people are a part of those managed, commune by commune.
    shares["people_improved"] = _apportion(totals["people_improved"], shares["people_managed"])
    for index, commune in enumerate(communes):
        values = {name: shares[name][index] for name in totals}
        store_indicator(commune, period.start, period.end, values, entered_by=None)
    db.session.flush()
    return period


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Whole numbers in proportion to `weights` that add up to `total` (largest remainder)."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _make_tips(rng, communes, focus, users, officers, today) -> int:
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    codes = [code for code, *_ in CATEGORIES]
    start = local_to_utc(months_back(today, 12))
    now = min(utcnow(), local_to_utc(today) + timedelta(hours=23, minutes=59))
    span = (now - timedelta(hours=6) - start).total_seconds()
    villages_by_commune = {
        c.id: [v for v in c.children if v.level == UnitLevel.VILLAGE] for c in communes
    }
    total = RECEIVED_TOTAL + DUPLICATES + REJECTED
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(total))
    fates = ["dup"] * DUPLICATES + ["rej"] * REJECTED + ["ok"] * RECEIVED_TOTAL
    rng.shuffle(fates)
    # The most recent counted tips are the ones still open.
    counted_indexes = [i for i, fate in enumerate(fates) if fate == "ok"]
    open_indexes = set(counted_indexes[SETTLED_TOTAL:])
    recent_by_unit: dict[int, Tip] = {}
    created = 0

    for index, (submitted, fate) in enumerate(zip(moments, fates, strict=True)):
        commune = focus if rng.random() < 0.06 else rng.choice(communes)
        villages = villages_by_commune[commune.id]
        unit = commune if rng.random() < 0.08 or not villages else rng.choice(villages)
        code = rng.choices(codes, weights=CATEGORY_WEIGHTS)[0]
        tier = rng.choices(list(IdentityTier), weights=[70, 20, 10])[0]
        draft = TipDraft(
            submission_key=f"demo-tip-{index:05d}",
            category=categories[code],
            unit=unit,
            description=rng.choice(DESCRIPTIONS[code]),
            place=rng.choice([None, "Gần nhà văn hóa thôn", "Đầu ngõ", "Chợ", "Bờ đê", None]),
            occurred_on=(submitted - timedelta(hours=rng.randint(1, 48))).date(),
            identity_tier=tier,
            name=rng.choice(["Nguyễn Văn An", "Lê Thị Bình", "Trần Văn Cường"])
            if tier != IdentityTier.ANONYMOUS
            else None,
            phone=f"09{rng.randint(10_000_000, 99_999_999)}"
            if tier != IdentityTier.ANONYMOUS
            else None,
        )
        receipt = submit_tip(draft, now=submitted)
        tip = receipt.tip
        if not receipt.created:  # already built by an earlier run
            if fate == "ok":
                recent_by_unit[unit.id] = tip
            continue
        created += 1
        # Each tip's later life draws from its own generator: a second run, which skips the
        # tips already there, then draws the same forms as the first (a form re-sent with
        # another text would be refused, not replayed). Seeded by the tip's place in the
        # year only: with its submission time in the seed (which moves with the time of
        # day the demo is built), outcomes differed from one build to the next, and about
        # one build in ten had more surrenders than the seed's 27 (tests/test_demo.py).
        life = random.Random(f"demo-life-{index}")
        actor = _actor(unit, focus, users, officers, commune)
        clock = _Clock(life, tip.submitted_at, now)
        if fate == "dup" and unit.id in recent_by_unit:
            _go(tip, Action.MARK_DUPLICATE, actor, clock, duplicate_of=recent_by_unit[unit.id])
        elif fate in {"dup", "rej"}:
            if life.random() < 0.5:
                _go(tip, Action.TRIAGE, actor, clock)
            reason = life.choice(list(RejectReason))
            _go(tip, Action.REJECT, officers[commune.id], clock, reason=reason)
        elif index in open_indexes:
            _advance_open(tip, life, actor, clock)
        else:
            _settle(tip, life, actor, officers[commune.id], clock)
        if fate == "ok":
            recent_by_unit[unit.id] = tip
        if index % 250 == 249:
            # Commit in batches: a long unit of work makes every flush slower.
            db.session.commit()
    return created


DEMO_TEMPLATES = (
    ("Đã tiếp nhận", "Chúng tôi đã nhận tin của bạn và đang cử người xác minh. Cảm ơn bạn."),
    ("Cần thêm thông tin", "Bạn có thể cho biết thêm thời gian và nơi xảy ra việc này không?"),
    ("Đã xử lý xong", "Sự việc bạn báo đã được giải quyết. Cảm ơn bạn đã góp phần giữ bình yên."),
)
DEMO_QUESTIONS = (
    "Bạn có nhớ biển số xe hoặc đặc điểm người đó không?",
    "Việc này thường xảy ra vào giờ nào trong ngày?",
    "Bạn có thể cho biết chính xác ngõ hoặc số nhà gần đó không?",
)
DEMO_REPLIES = (
    "Xe máy màu đỏ, biển số bắt đầu bằng 36B.",
    "Thường khoảng 10 giờ tối, cuối tuần thì đông hơn.",
)


def _triage_touches(rng: random.Random, focus: Unit, users: dict, today) -> int:
    """What a busy commune's inbox looks like: assignments, urgent tips, questions to
    tipsters and their answers (so "unread replies" has something), ready-made replies."""
    for title, body in DEMO_TEMPLATES:
        db.session.add(ResponseTemplate(unit=focus, title=title, body=body))
    police, leader = users["congan"], users["totruong"]
    in_focus = select(Tip).join(Unit, Tip.unit_id == Unit.id).where(focus.subtree_clause())
    open_tips = [
        tip for tip in db.session.scalars(in_focus.order_by(Tip.submitted_at.desc())) if tip.is_open
    ]
    at = min(utcnow(), local_to_utc(today) + timedelta(hours=20))
    touched = 0
    for index, tip in enumerate(open_tips[:24]):
        actor = leader if acting_roles(tip, leader) else police
        if index < len(DEMO_QUESTIONS) and tip.identity_tier != IdentityTier.NAMED:
            asked = max(at - timedelta(hours=30 - index), tip.submitted_at + timedelta(hours=1))
            workflow.send_message(tip, actor, DEMO_QUESTIONS[index], MessageKind.QUESTION, at=asked)
            if index < len(DEMO_REPLIES):
                workflow.receive_tipster_message(
                    tip,
                    DEMO_REPLIES[index],
                    MessageKind.REPLY,
                    at=min(at, asked + timedelta(hours=3)),
                )
        # After the conversation: a tip's history reads in order of time.
        if index % 3 == 0:
            assignee = actor if actor is leader else rng.choice([police, None])
            if assignee is not None and assignee.id != tip.assignee_id:
                workflow.assign(tip, actor, assignee, at=at)
        if index in (1, 4) and tip.priority != Priority.URGENT:
            workflow.set_priority(tip, actor, Priority.URGENT, at=at)
        touched += 1
    db.session.flush()
    return touched


def _actor(unit, focus, users, officers, commune) -> User:
    if (
        commune.id == focus.id
        and unit.level == UnitLevel.VILLAGE
        and unit.id in {a.unit_id for a in users["totruong"].roles}
    ):
        return users["totruong"]
    return officers[commune.id]


class _Clock:
    """Moves forward in plausible steps, never past `limit`."""

    def __init__(self, rng: random.Random, start: datetime, limit: datetime) -> None:
        self.rng, self.now, self.limit = rng, start, limit

    def step(self, max_hours: float) -> datetime:
        room = (self.limit - self.now).total_seconds()
        seconds = min(self.rng.uniform(0.2, max_hours) * 3600, max(room * 0.5, 1))
        self.now = self.now + timedelta(seconds=seconds)
        return self.now


def _go(tip: Tip, action: Action, actor: User, clock: _Clock, **kwargs) -> None:
    workflow.transition(tip, action, actor, at=clock.step(30), **kwargs)


def _advance_open(tip: Tip, rng: random.Random, actor: User, clock: _Clock) -> None:
    steps = rng.choice([0, 1, 1, 2, 2, 3])
    for action in [Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY][:steps]:
        _go(tip, action, actor, clock)
    if rng.random() < 0.1:
        workflow.transition(tip, Action.ESCALATE, actor, at=clock.step(5))


def _settle(tip: Tip, rng: random.Random, actor: User, police: User, clock: _Clock) -> None:
    _go(tip, Action.TRIAGE, actor, clock)
    _go(tip, Action.START_VERIFICATION, actor, clock)
    if rng.random() < 0.17:
        if rng.random() < 0.5:
            _go(tip, Action.VERIFY, actor, clock)
        _go(
            tip,
            Action.MARK_UNFOUNDED,
            actor,
            clock,
            note="Đã xác minh, không có cơ sở.",
            note_to_tipster=True,
        )
        return
    _go(tip, Action.VERIFY, actor, clock)
    outcome = rng.choices([o for o, _ in OUTCOME_WEIGHTS], weights=[w for _, w in OUTCOME_WEIGHTS])[
        0
    ]
    settler = actor if outcome in workflow.VILLAGE_OUTCOMES else police
    _go(
        tip,
        Action.RESOLVE,
        settler,
        clock,
        outcome=outcome,
        note="Đã giải quyết. Cảm ơn bạn đã báo tin.",
        note_to_tipster=True,
    )
