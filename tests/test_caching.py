"""The reference-data cache behind the resident pages: units and categories are read once,
yet a change shows at once in this process, a rolled-back change never shows, and each
app keeps its own values."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, select, text, update

from tipline.core import cache
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import add_unit, cached_unit, cached_villages
from tipline.tips.models import Category, Tip
from tipline.tips.services import cached_categories, new_submission_key

DESCRIPTION = "Hai người lạ đi xe máy không biển số dò xét từng nhà vào buổi tối."


def tip_form(**overrides) -> dict:
    data = {
        "submission_key": new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": DESCRIPTION,
        "identity_tier": "anonymous",
        "photo_token": "",
    }
    data.update(overrides)
    return data


def post_tip(client, data: dict, xa: str = "A"):
    return client.post(f"/gui-tin?xa={xa}", data=data, content_type="multipart/form-data")


def form_page(client, xa: str = "A") -> str:
    response = client.get(f"/gui-tin?xa={xa}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@contextmanager
def statements(app):
    """The SQL statements the app sends meanwhile."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def reads_of(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s]


def test_form_and_submission_read_no_units(app, client, world):
    form_page(client)
    with statements(app) as seen:
        form_page(client)
        response = post_tip(client, tip_form())
    assert response.status_code == 200
    assert reads_of(seen, "units") == []
    tip = db.session.scalar(select(Tip))
    assert (tip.unit, tip.category) == (world.a1, world.theft)


def test_form_and_submission_read_no_categories(app, client, world):
    form_page(client)
    with statements(app) as seen:
        form_page(client)
        response = post_tip(client, tip_form())
    assert response.status_code == 200
    assert reads_of(seen, "categories") == []


def test_a_village_added_later_is_offered_and_accepted(client, world):
    assert "Thôn Bắc" not in form_page(client)
    commune = world.commune_a
    add_unit(code="A3", name="Thôn Bắc", level=UnitLevel.VILLAGE, kind="thôn", parent=commune)
    db.session.commit()
    assert "Thôn Bắc" in form_page(client)
    assert post_tip(client, tip_form(village="A3")).status_code == 200
    assert db.session.scalar(select(Tip)).unit.code == "A3"


def test_a_renamed_or_withdrawn_category_shows_at_once(client, world):
    form_page(client)
    world.theft.name = "Trộm cắp"
    world.fight.active = False
    db.session.commit()
    page = form_page(client)
    assert "Trộm cắp" in page and "Trộm cắp tài sản" not in page
    assert "Đánh nhau" not in page
    response = post_tip(client, tip_form(category="disturbance"))
    assert response.status_code == 422
    assert db.session.scalar(select(Tip)) is None


def test_a_deactivated_village_or_commune_is_refused_at_once(client, world):
    assert post_tip(client, tip_form(village="A2")).status_code == 200
    db.session.execute(update(Unit).where(Unit.code == "A2").values(active=False))
    db.session.commit()
    assert "Thôn Tây" not in form_page(client)
    assert post_tip(client, tip_form(village="A2")).status_code == 422
    world.commune_a.active = False
    db.session.commit()
    assert client.get("/gui-tin?xa=A").status_code == 200  # back to choosing a commune
    assert "submission_key" not in client.get("/gui-tin?xa=A").get_data(as_text=True)
    assert post_tip(client, tip_form()).status_code == 302
    assert db.session.scalar(select(db.func.count(Tip.id))) == 1


def test_a_change_in_an_open_transaction_is_seen_by_it_and_rolled_back_unseen(ctx, world):
    assert [c.name for c in cached_categories()][0] == "Trộm cắp tài sản"
    world.theft.name = "Trộm cắp (chưa lưu)"
    db.session.flush()
    assert cached_categories()[0].name == "Trộm cắp (chưa lưu)"
    db.session.rollback()
    assert cached_categories()[0].name == "Trộm cắp tài sản"


def test_emptied_tables_are_not_served_from_the_cache(ctx, world):
    assert cached_unit("A1") is not None and len(cached_categories()) == 2
    db.session.execute(delete(Category))
    db.session.execute(text("UPDATE units SET active = false WHERE code = 'A1'"))
    db.session.commit()
    assert cached_categories() == ()
    assert cached_unit("A1") is None
    assert [v.code for v in cached_villages(world.commune_a)] == ["A2"]


def test_unknown_codes_are_not_kept(ctx, world, app):
    for code in ("X1", "X2", "X3"):
        assert cached_unit(code) is None
    assert cached_unit("A1") is not None  # a known code is kept, unknown ones are not
    kept = cache.cache_for(app)._entries
    units = {key[1][1] for key in kept if key[0] == "reference" and key[1][0] == "unit"}
    assert "A1" in units and not units & {"X1", "X2", "X3"}


@pytest.mark.commits  # another connection (as another process would) or another app
def test_a_change_made_elsewhere_shows_when_the_entry_expires(ctx, world, app, monkeypatch):
    """Another process's change cannot clear this one's cache: the entry's age bounds it."""
    assert cached_categories()[0].name == "Trộm cắp tài sản"
    with db.engine.begin() as conn:  # not through a session: like another process
        conn.execute(text("UPDATE categories SET name = 'Trộm cắp' WHERE code = 'theft'"))
    db.session.rollback()  # a new transaction, which would see the change
    assert cached_categories()[0].name == "Trộm cắp tài sản"
    ttl = app.config["TIPLINE_REFERENCE_CACHE_SECONDS"]
    now = cache.time.monotonic()
    monkeypatch.setattr(cache.time, "monotonic", lambda: now + ttl + 1)
    assert cached_categories()[0].name == "Trộm cắp"


@pytest.mark.commits  # another connection (as another process would) or another app
def test_each_app_keeps_its_own_values(app, world, other_app, tmp_path):
    other = other_app(
        {
            "TESTING": True,
            "SECRET_KEY": "other-secret-key-" + "y" * 32,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.db'}",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "TIPLINE_ROOT_UNIT": "T",
            "RATELIMIT_ENABLED": False,
        }
    )
    with other.app_context():
        db.create_all()
        db.session.add(Category(code="noise", name="Gây ồn ào", sort_order=0))
        db.session.commit()
        assert [c.code for c in cached_categories()] == ["noise"]
    with app.app_context():
        assert [c.code for c in cached_categories()] == ["theft", "disturbance"]
    with other.app_context():
        assert [c.code for c in cached_categories()] == ["noise"]
        cache.clear(other)
        assert [c.code for c in cached_categories()] == ["noise"]
        db.session.remove()


def test_no_cache_when_its_lifetime_is_zero(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_REFERENCE_CACHE_SECONDS", 0)
    form_page(client)
    with statements(app) as seen:
        form_page(client)
    assert reads_of(seen, "categories") and reads_of(seen, "units")
