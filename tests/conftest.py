"""Fixtures: one app and one migrated database per run; every test starts from empty tables.

SQLite in a temporary folder by default. With TIPLINE_TEST_DATABASE_URL set (a
PostgreSQL server URL), the run creates its own uniquely named database there and
drops it at the end, because the server keeps whatever earlier runs left.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import has_app_context
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import MetaData, delete, select, text
from sqlalchemy.engine import make_url

from tipline import create_app
from tipline.accounts import models as account_models
from tipline.accounts.models import Role, User
from tipline.accounts.services import create_user, grant
from tipline.core import cache
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import add_unit
from tipline.tips.models import Category, IdentityTier, Tip
from tipline.tips.services import TipDraft, new_submission_key, submit_tip

ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = ROOT.parent / "shared" / "testdata" / "photos"
PASSWORD = "correct horse battery"

# CI explores a fixed set of examples (a run can be repeated exactly); developers' runs
# draw new ones each time, so new finds turn up on a laptop, not as a random CI failure.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# Argon2 at its production cost would dominate the suite; the algorithm stays the same.
account_models._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TIPLINE_TEST_DATABASE_URL"):
        skip = pytest.mark.skip(reason="slow tests run in the SQLite pass only")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


def _postgres_database() -> tuple[str, str] | None:
    url = os.environ.get("TIPLINE_TEST_DATABASE_URL")
    if not url:
        return None
    name = f"tipline_test_{uuid.uuid4().hex[:12]}"
    return url, name


def _admin_execute(server_url: str, sql: str) -> None:
    import psycopg

    admin = make_url(server_url).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    postgres = _postgres_database()
    if postgres is None:
        path = tmp_path_factory.mktemp("db") / "tipline.db"
        yield f"sqlite:///{path}"
        return
    server_url, name = postgres
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        # The app fixture has disposed of its engine by now; FORCE ends any straggler.
        _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class IsolatedClient(FlaskClient):
    """A test client whose requests run like real ones, outside the test's app context.

    Flask reuses an app context that is already pushed, so without this every request
    would share the test's `g` (Flask-Login's cached user) and database session. The
    test's own work is committed first, so the request sees it, and what the test reads
    afterwards is loaded fresh.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    upload_dir = tmp_path_factory.mktemp("uploads")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_DIR": str(upload_dir),
            "TIPLINE_ROOT_UNIT": "T",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(upload_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated(request):
    """Each test that touches the app runs in one transaction, rolled back at its end.

    Every session of the test (its own, and each request's: they get their own app
    context) is bound to one connection whose transaction is never committed; their
    commits only release savepoints. Tests that need real commits (other connections or
    threads, a live server, a subprocess) carry the `commits` marker: they run as the app
    runs, and the tables are emptied after them.
    """
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    # Counts kept in this process while the limiter is off (the puzzle's load, single-use
    # marks) start from nothing in every test: twenty tips in earlier tests must not
    # make the next one's commune look flooded.
    app.extensions.get("tipline_throttle", {}).pop("local", None)
    uploads = Path(app.config["UPLOAD_DIR"])
    files_before = _files(uploads)
    if request.node.get_closest_marker("commits"):
        yield
        _empty_tables(app)
        _remove_new_files(uploads, files_before)
        return
    factory = db.session.session_factory
    saved = dict(factory.kw)
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        factory.kw.clear()
        factory.kw.update(saved)
        with app.app_context():
            db.session.remove()
        outer.rollback()
        connection.close()
        cache.clear()  # values read inside the rolled-back transaction
        _remove_new_files(uploads, files_before)  # photos whose rows were rolled back


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()} if folder.exists() else set()


def _remove_new_files(folder: Path, before: set[Path]) -> None:
    for path in _files(folder) - before:
        path.unlink(missing_ok=True)


def _empty_tables(app) -> None:
    with app.app_context():
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            # Emptying a whole country's units checks every foreign key row by row: more
            # than the app's 5-second statement timeout on a busy machine.
            db.session.execute(text("SET LOCAL statement_timeout = '120s'"))
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()
        db.session.remove()
    cache.clear()


@pytest.fixture
def other_app():
    """Build further apps in a test; the shared limiter's settings are put back after.

    Flask-Limiter keeps its settings on the one `limiter` object that every app's
    decorators use, so a second app's init_app would otherwise change the first's.
    """
    from tipline.extensions import limiter

    saved = dict(vars(limiter))
    made = []

    def make(config):
        made.append(create_app(config))
        return made[-1]

    yield make
    for built in made:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()
    vars(limiter).clear()
    vars(limiter).update(saved)


def settings_like(app, **overrides) -> dict:
    """Settings for another app on the same database, uploads and secret (see other_app)."""
    settings = {
        key: app.config[key]
        for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "UPLOAD_DIR", "TIPLINE_ROOT_UNIT")
    }
    settings.update(TESTING=True, WTF_CSRF_ENABLED=False)
    settings.update(overrides)
    return settings


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def database_text() -> str:
    """Every value of every column of every table in the database, as text."""
    meta = MetaData()
    meta.reflect(bind=db.engine)
    values = []
    for table in meta.sorted_tables:
        for row in db.session.execute(select(table)):
            values.extend(str(value) for value in row if value is not None)
    return "\n".join(values)


# --- factories -----------------------------------------------------------------------


@dataclass
class World:
    """A small province: communes A and B; villages A1, A2 (in A) and B1 (in B)."""

    province: Unit
    commune_a: Unit
    commune_b: Unit
    a1: Unit
    a2: Unit
    b1: Unit
    theft: Category
    fight: Category
    users: dict[str, User]

    def user(self, name: str) -> User:
        return db.session.get(User, self.users[name].id)


ACCOUNTS = {
    # name: (role, unit attribute)
    "member_a1": (Role.TEAM_MEMBER, "a1"),
    "leader_a1": (Role.VILLAGE_LEADER, "a1"),
    "leader_a2": (Role.VILLAGE_LEADER, "a2"),
    "police_a": (Role.COMMUNE_POLICE, "commune_a"),
    "committee_a": (Role.COMMUNE_COMMITTEE, "commune_a"),
    "officer": (Role.OFFICER, "province"),
    "admin": (Role.ADMIN, "province"),
    "leader_b1": (Role.VILLAGE_LEADER, "b1"),
    "police_b": (Role.COMMUNE_POLICE, "commune_b"),
}


@pytest.fixture
def world(ctx) -> World:
    province = add_unit(code="T", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
    commune_a = add_unit(
        code="A", name="Xã An Bình", level=UnitLevel.COMMUNE, kind="xã", parent=province
    )
    commune_b = add_unit(
        code="B", name="Phường Bắc Sơn", level=UnitLevel.COMMUNE, kind="phường", parent=province
    )
    a1 = add_unit(
        code="A1", name="Thôn Đông", level=UnitLevel.VILLAGE, kind="thôn", parent=commune_a
    )
    a2 = add_unit(
        code="A2", name="Thôn Tây", level=UnitLevel.VILLAGE, kind="thôn", parent=commune_a
    )
    b1 = add_unit(
        code="B1", name="Tổ dân phố 1", level=UnitLevel.VILLAGE, kind="tổ dân phố", parent=commune_b
    )
    theft = Category(code="theft", name="Trộm cắp tài sản", sort_order=0)
    fight = Category(code="disturbance", name="Đánh nhau, gây rối trật tự", sort_order=1)
    db.session.add_all([theft, fight])
    db.session.flush()
    world = World(province, commune_a, commune_b, a1, a2, b1, theft, fight, {})
    for name, (role, where) in ACCOUNTS.items():
        user = create_user(name, name.replace("_", " ").title(), PASSWORD)
        grant(user, role, getattr(world, where))
        world.users[name] = user
    db.session.commit()
    return world


@pytest.fixture
def make_tip(world):
    """Submit a tip through the real service; keyword arguments override the draft."""

    def make(
        unit: Unit | None = None,
        *,
        now: datetime | None = None,
        category: Category | None = None,
        **overrides,
    ) -> Tip:
        overrides.setdefault("description", "Mất trộm xe máy trước cửa nhà văn hóa.")
        draft = TipDraft(
            submission_key=new_submission_key(),
            category=category or world.theft,
            unit=unit or world.a1,
            **overrides,
        )
        receipt = submit_tip(draft, now=now)
        db.session.commit()
        return receipt.tip

    return make


@pytest.fixture
def login(app, world):
    """Log a user in on a fresh test client and return that client."""

    def do(name: str):
        client = app.test_client()
        response = client.post(
            "/staff/login", data={"username": name, "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do


__all__ = ["IdentityTier", "SHARED_PHOTOS", "World"]


# --- parallel requests and a limiter that counts ---------------------------------------

ALLOWANCE = 5  # sign-in attempts per account in the `limited` apps


def at_once(count: int, job) -> list:
    """Run `job(i)` in `count` threads released together; return their results."""
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        return job(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def limited(other_app, app, world):
    """make(**settings) -> an app with the limiter on (Redis when the run has one); the
    keys it made in Redis are deleted after the test."""
    made: list[str] = []

    def make(**overrides):
        prefix = f"tipline-limited-{uuid.uuid4().hex}"
        made.append(prefix)
        settings = {
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": os.environ.get("TIPLINE_TEST_REDIS_URL") or "memory://",
            "RATELIMIT_KEY_PREFIX": prefix,
            "TIPLINE_LOGIN_LIMIT": "1000 per hour",  # the per-client limit is not tested here
            "TIPLINE_API_PUBLIC_LIMIT": "1000 per hour",
            "TIPLINE_LOGIN_ACCOUNT_LIMIT": f"{ALLOWANCE} per 15 minutes",
            **overrides,
        }
        return other_app(settings_like(app, **settings))

    yield make
    url = os.environ.get("TIPLINE_TEST_REDIS_URL")
    if url:
        import redis

        server = redis.Redis.from_url(url)
        try:
            for prefix in made:
                found = list(server.scan_iter(match=f"*{prefix}*"))
                if found:
                    server.delete(*found)
        finally:
            server.close()
