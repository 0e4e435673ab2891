"""Alerts across a database restart (PostgreSQL): every connection the app holds is
killed by the server, as a restart does; the worker's next pass reconnects and sends each
alert once, and the web keeps taking tips (issue 16, "the database restarting")."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from tipline.alerts import worker
from tipline.alerts.models import SENT, Delivery
from tipline.extensions import db

from .alerts_fake import FakeChannel, install, remove
from .test_alerts_worker import _world_with_tips
from .test_public import post_tip, tip_form

pytestmark = [pytest.mark.commits, pytest.mark.postgres]


@pytest.fixture
def fake(app):
    channel = install(FakeChannel())
    yield channel
    remove(channel)


def _kill_connections() -> int:
    """What a restart does to the app's pooled connections: the server ends them all."""
    outside = create_engine(db.engine.url, poolclass=NullPool)  # not one of the app's
    try:
        with outside.connect() as own:
            return own.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": db.engine.url.database},
            ).scalar_one()
    finally:
        outside.dispose()


def test_the_worker_and_the_web_go_on_after_the_database_restarts(app, fake, client):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("needs PostgreSQL (TIPLINE_TEST_DATABASE_URL)")
        _world_with_tips(app, 3)
        worker.run_pass(run_jobs=False)  # the pool now holds live connections
        sent_before = len(fake.sent)
        assert sent_before > 0
        _world_with_tips_more(app)
        db.session.remove()
        assert _kill_connections() >= 1

        # The web: a resident's tip is taken on a fresh connection.
        response = post_tip(client, tip_form())
        assert response.status_code in (200, 303), response.get_data(as_text=True)[:300]

        # The worker: its pass reconnects (stale connections are pinged, then replaced).
        for _ in range(3):
            try:
                worker.run_pass(run_jobs=False)
                break
            except Exception:  # a pass that met a dead connection: the worker waits, goes on
                db.session.rollback()
                db.session.remove()
        rows = db.session.scalars(select(Delivery).where(Delivery.channel == "fake")).all()
        assert rows and all(row.state == SENT for row in rows)
        keys = [alert.key for _, alert in fake.sent]
        assert len(keys) == len(set(keys)) == len(rows)  # each alert once, none lost


def _world_with_tips_more(app) -> None:
    """Two more tips whose alerts wait while the database goes away."""
    from tipline.places.models import Unit
    from tipline.tips.models import Category
    from tipline.tips.services import TipDraft, new_submission_key, submit_tip

    village = db.session.scalar(select(Unit).where(Unit.code == "A1"))
    theft = db.session.scalar(select(Category).where(Category.code == "theft"))
    for _ in range(2):
        submit_tip(
            TipDraft(
                submission_key=new_submission_key(),
                category=theft,
                unit=village,
                description="Mất trộm xe đạp trước cổng trường.",
            )
        )
    db.session.commit()
