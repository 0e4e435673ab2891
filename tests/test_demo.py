"""`flask tipline demo` builds Thanh Hóa and a year of tips whose totals are the seed's."""

from __future__ import annotations

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
