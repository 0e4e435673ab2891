"""`flask tipline demo` builds Thanh Hóa and a year of tips whose totals are the seed's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tipline.core.timeutil import local_today, months_back
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import root_unit
from tipline.tips import counts
from tipline.tips.models import Tip, TipEvent

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_app(app):
    app.config["TIPLINE_ROOT_UNIT"] = "38"
    yield app
    app.config["TIPLINE_ROOT_UNIT"] = "T"


def test_demo_reproduces_the_provincial_review_and_is_idempotent(demo_app, runner, ctx):
    result = runner.invoke(args=["tipline", "demo"])
    assert result.exit_code == 0, result.output
    for username in ("tovien", "totruong", "congan", "bandaoxa", "tinh", "quantri"):
        assert username in result.output
    assert "tipline-demo" in result.output

    root = root_unit()
    assert root.name == "Thanh Hóa"
    communes = db.session.scalar(
        select(func.count(Unit.id)).where(
            Unit.parent_id == root.id, Unit.level == UnitLevel.COMMUNE
        )
    )
    assert communes == 166
    total, _ = counts.figures_by_commune(root, months_back(local_today(), 12), local_today())
    assert (total.received, total.settled) == (2967, 2655)
    assert counts.differences() == {}
    # A year of alerts does not wake the demo's phones at once: the last two weeks' only.
    from tipline.alerts.models import Notification
    from tipline.core.timeutil import local_to_utc
    from tipline.demo import ALERT_DAYS

    times = db.session.scalars(select(Notification.created_at)).all()
    assert times, "the demo's last days have alerts to show"
    assert min(times) >= local_to_utc(local_today() - timedelta(days=ALERT_DAYS))
    year = db.session.scalar(select(func.count(Tip.id)))
    assert len(times) < year / 10  # not one or more for each of the year's tips

    html = demo_app.test_client().get("/").get_data(as_text=True)
    assert 'id="fig-received">2.967<' in html
    assert 'id="fig-settled">2.655<' in html

    tips = db.session.scalar(select(func.count(Tip.id)))
    events = db.session.scalar(select(func.count(TipEvent.id)))
    units = db.session.scalar(select(func.count(Unit.id)))
    again = runner.invoke(args=["tipline", "demo"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Tip.id))) == tips
    assert db.session.scalar(select(func.count(TipEvent.id))) == events
    assert db.session.scalar(select(func.count(Unit.id))) == units

    quick = runner.invoke(args=["tipline", "demo", "--if-empty"])
    assert "demo not loaded" in quick.output

    _review_reproduces_the_seed(demo_app, root)


# The seed's figures in its order (DOMAIN.md), and where the demo's review gets each one.
SEED = [
    ("1", 634, "indicator"),
    ("2", 5882, "indicator"),
    ("3", 34891, "indicator"),
    ("4", 2967, "tips"),
    ("5", 488, "indicator"),
    ("6", 4327, "indicator"),
    ("7", 4508, "indicator"),
    ("8", 697, "both"),  # "gần 700"
    ("9", 1164, "indicator"),
    ("9a", 396, "indicator"),
    ("10", 2655, "tips"),
    ("10a", None, "tips"),  # satisfaction: no tipster answers in the demo (withheld)
    ("11", 27, "both"),
    ("12", None, "not_tracked"),  # ~5,000 officers sent to the grassroots: not tracked
]


def _review_reproduces_the_seed(demo_app, root):
    from tipline.reports.indicators import latest_indicator_period
    from tipline.reports.review import annual_review

    period = latest_indicator_period(root)
    assert period.start == months_back(local_today(), 12) and period.end == local_today()
    review = annual_review(root, period)
    assert [(line.number, line.value, line.source) for line in review.lines] == SEED
    assert review.indicators.communes_entered == review.indicators.communes_total == 166
    mediated = review.lines[7]
    assert mediated.from_tips > 0 and mediated.entered + mediated.from_tips == 697

    client = demo_app.test_client()
    response = client.post("/staff/login", data={"username": "tinh", "password": "tipline-demo"})
    assert response.status_code == 302
    html = client.get(f"/staff/bao-cao/so-ket?ky={period.key}").get_data(as_text=True)
    for number, value, _ in SEED:
        row = html[html.index(f'id="review-{number}"') :].split("</tr>")[0]
        expected = "—" if value is None else f"{value:,}".replace(",", ".")
        assert f'class="num">{expected}<' in row, (number, row)
    xlsx = client.get(f"/staff/bao-cao/so-ket.xlsx?ky={period.key}")
    assert xlsx.status_code == 200
    public = demo_app.test_client().get("/so-lieu").get_data(as_text=True)
    assert "Sơ kết gần nhất" in public and ">34.891<" in public
