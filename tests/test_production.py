"""Production behaviour: concurrency, the health check, faults (database and Redis down)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from tipline.extensions import db
from tipline.tips import counts
from tipline.tips.models import Tip, TipStatus
from tipline.tips.services import new_submission_key

from .conftest import PASSWORD, at_once

pytestmark = pytest.mark.commits  # gunicorn and threads: real commits


def form(world, key: str, text: str = "Có người lạ đột nhập kho hợp tác xã lúc nửa đêm.") -> dict:
    return {
        "submission_key": key,
        "village": world.a1.code,
        "category": world.theft.code,
        "description": text,
        "identity_tier": "anonymous",
    }


def reference_and_code(html: str) -> tuple[str, str]:
    import re

    reference = re.search(r'id="reference">([^<]+)<', html).group(1)
    code = re.search(r'id="follow-up-code">([^<]+)<', html).group(1)
    return reference, code


def test_ten_simultaneous_posts_of_one_form_make_one_tip(app, world):
    data, url = form(world, new_submission_key()), f"/gui-tin?xa={world.commune_a.code}"

    def post(_):
        response = app.test_client().post(url, data=data)
        return response.status_code, response.get_data(as_text=True)

    results = at_once(10, post)
    db.session.rollback()  # end the test's own read snapshot
    assert [status for status, _ in results] == [200] * 10
    receipts = {reference_and_code(html) for _, html in results}
    assert len(receipts) == 1  # every answer leads to the same receipt
    assert db.session.scalar(select(func.count(Tip.id))) == 1
    assert counts.differences() == {}


def test_simultaneous_submissions_never_fail_with_a_locked_database(app, world):
    url = f"/gui-tin?xa={world.commune_a.code}"
    forms = [
        form(world, new_submission_key(), f"Tin báo số {i}: mất trộm gia súc ban đêm.")
        for i in range(12)
    ]

    def post(index):
        return app.test_client().post(url, data=forms[index]).status_code

    assert at_once(12, post) == [200] * 12
    db.session.rollback()
    assert db.session.scalar(select(func.count(Tip.id))) == 12
    assert counts.differences() == {}


def test_simultaneous_transitions_on_one_tip_one_wins_the_rest_are_told(app, world, make_tip):
    tip = make_tip(world.a1)
    public_id, version = tip.public_id, tip.version
    clients = []
    for name in ("leader_a1", "police_a", "committee_a", "leader_a1", "police_a", "committee_a"):
        client = app.test_client()
        client.post("/staff/login", data={"username": name, "password": PASSWORD})
        clients.append(client)
    actions = [
        {"action": "triage"},
        {"action": "reject", "reason": "spam"},
        {"action": "reject", "reason": "out_of_scope"},
        {"action": "triage"},
        {"action": "reject", "reason": "abuse"},
        {"action": "triage"},
    ]

    def act(index):
        response = clients[index].post(
            f"/staff/tips/{public_id}/act", data={"version": version, **actions[index]}
        )
        return response.status_code, response.get_data(as_text=True)

    results = at_once(len(clients), act)
    db.session.rollback()
    winners = [status for status, _ in results if status == 303]
    assert len(winners) == 1
    for status, html in results:
        if status != 303:
            # The merge names a tip that does not exist; every other loser was too late.
            alert = html[html.find('role="alert"') :][:300]
            assert status in (409, 400), alert
            assert "vừa được người khác thay đổi" in html or "Không tìm thấy tin báo gốc" in html, (
                status,
                alert,
            )
    db.session.expire_all()
    tip = db.session.scalar(select(Tip).where(Tip.public_id == public_id))
    assert tip.status in (TipStatus.TRIAGED, TipStatus.REJECTED)
    assert len(tip.events) == 2  # submitted + the one winner
    assert counts.differences() == {}


def test_health_check_reports_each_dependency(client, world):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] is True
    assert response.json["checks"]["photo_storage"] is True
    assert "Set-Cookie" not in response.headers


def test_health_check_fails_when_the_database_does_not_answer(other_app, tmp_path, app):
    broken = other_app(_settings(app, tmp_path / "missing" / "db.sqlite"))
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] is False


def _settings(app, database_path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
        "UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "TIPLINE_ROOT_UNIT": "T",
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
    }


def test_database_down_gives_a_friendly_503_and_recovers_by_itself(other_app, tmp_path, app):
    folder = tmp_path / "later"
    broken = other_app(_settings(app, folder / "db.sqlite"))
    client = broken.test_client()
    for response in (
        client.get("/"),
        client.post("/gui-tin?xa=A", data={"submission_key": new_submission_key()}),
        client.post("/tra-cuu", data={"reference": "TL-AAAA-BBBB", "code": "x" * 16}),
    ):
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        assert "chưa lưu được gì" in html and 'href="tel:113"' in html
        assert response.headers["Retry-After"] == "30"
    # The database comes back: the same app serves again without a restart.
    folder.mkdir()
    with broken.app_context():
        from flask_migrate import upgrade

        upgrade()
    assert client.get("/tra-cuu").status_code == 200
    assert client.get("/healthz").status_code == 200


@pytest.mark.skipif(
    not __import__("os").environ.get("TIPLINE_TEST_DATABASE_URL"),
    reason="needs TIPLINE_TEST_DATABASE_URL",
)
def test_postgres_unreachable_gives_503(other_app, tmp_path, app):
    settings = _settings(app, tmp_path / "x")
    settings["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    response = other_app(settings).test_client().get("/")
    assert response.status_code == 503


def test_redis_down_still_takes_tips_with_per_process_limits(other_app, tmp_path, app, caplog):
    from tipline.extensions import limiter

    settings = _settings(app, "unused")
    settings.update(
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",  # nothing listens there
        TIPLINE_FOLLOWUP_LIMIT="2 per hour",
    )
    limited = other_app(settings)
    with app.app_context():
        from tipline.places.models import UnitLevel
        from tipline.places.services import add_unit
        from tipline.tips.models import Category

        province = add_unit(code="T", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
        commune = add_unit(
            code="A", name="Xã An Bình", level=UnitLevel.COMMUNE, kind="xã", parent=province
        )
        add_unit(code="A1", name="Thôn Đông", level=UnitLevel.VILLAGE, kind="thôn", parent=commune)
        db.session.add(Category(code="theft", name="Trộm cắp tài sản"))
        db.session.commit()
    client = limited.test_client()
    with caplog.at_level(logging.WARNING):
        response = client.post(
            "/gui-tin?xa=A",
            data={
                "submission_key": new_submission_key(),
                "village": "A1",
                "category": "theft",
                "description": "Mất trộm xe đạp ở sân trường.",
                "identity_tier": "anonymous",
            },
        )
        assert response.status_code == 200
        statuses = [
            client.post(
                "/tra-cuu", data={"reference": "TL-AAAA-BBBB", "code": "A" * 16}
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [422, 422, 429]  # limits still hold, per process
    assert any("fall" in record.getMessage().lower() for record in caplog.records)
    assert limiter  # the shared limiter is restored by other_app's teardown


def test_photo_uploads_never_hit_the_form_memory_limit(client, world):
    """Werkzeug's parse buffer counts against MAX_FORM_MEMORY_SIZE; uploads must not 413."""
    import io
    import os as _os

    from PIL import Image

    noise = Image.frombytes("RGB", (420, 420), _os.urandom(420 * 420 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=95)
    photo = buffer.getvalue()
    assert 200_000 < len(photo) < 500_000
    url = f"/gui-tin?xa={world.commune_a.code}"
    for _ in range(8):  # each post draws a new multipart boundary
        data = form(world, new_submission_key())
        data["photo"] = (io.BytesIO(photo), "anh.jpg", "image/jpeg")
        response = client.post(url, data=data, content_type="multipart/form-data")
        assert response.status_code == 200, response.status_code
