"""The app as a whole: schema from migrations, configuration, errors, logging."""

from __future__ import annotations

import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet

from tipline.core.privacy import DropClientAddress
from tipline.extensions import db


def test_migrations_build_exactly_the_models(ctx):
    """`flask db upgrade` (run by the app fixture) gives the schema the models describe."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch, tmp_path, other_app):
    monkeypatch.setenv("TIPLINE_ENV", "production")
    for key in (None, "", "dev", "short-key"):
        config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
        if key is not None:
            config["SECRET_KEY"] = key
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            other_app(config)


def test_production_starts_with_a_real_secret_key_and_secure_cookies(
    monkeypatch, tmp_path, other_app
):
    monkeypatch.setenv("TIPLINE_ENV", "production")
    app = other_app(
        {
            "SECRET_KEY": "k" * 48,
            "TIPLINE_DATA_KEY": Fernet.generate_key().decode(),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.debug is False


def test_production_refuses_to_start_without_a_data_key(monkeypatch, tmp_path, other_app):
    monkeypatch.setenv("TIPLINE_ENV", "production")
    config = {"SECRET_KEY": "k" * 48, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    with pytest.raises(RuntimeError, match="TIPLINE_DATA_KEY"):
        other_app(config)


def test_unknown_page_is_a_vietnamese_404(client, world):
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    assert "Không tìm thấy" in response.get_data(as_text=True)


def test_api_clients_get_json_errors(client, world):
    response = client.get("/khong-co", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.is_json and "Không tìm thấy" in response.json["error"]


def test_method_not_allowed_is_explained(client, world):
    response = client.put("/gui-tin")
    assert response.status_code == 405
    assert "không được hỗ trợ" in response.get_data(as_text=True)


def test_security_headers_on_every_page(client, world):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_request_log_line_loses_the_client_address():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1,
        '203.0.113.9 - - [28/Nov/2026 10:00:00] "%s" %s %s', ("GET / HTTP/1.1", "200", "-"), None,
    )  # fmt: skip
    DropClientAddress().filter(record)
    assert "203.0.113.9" not in record.getMessage()
    assert '"GET / HTTP/1.1" 200' in record.getMessage()


def test_setup_imports_a_province_and_categories_idempotently(runner, ctx):
    from sqlalchemy import func, select

    from tipline.places.models import Unit
    from tipline.tips.models import Category

    for _ in range(2):
        result = runner.invoke(args=["tipline", "setup", "--province", "38"])
        assert result.exit_code == 0, result.output
        assert "Thanh Hóa: 166" in result.output
    assert db.session.scalar(select(func.count(Unit.id))) == 167
    assert db.session.scalar(select(func.count(Category.id))) == 10
    bad = runner.invoke(args=["tipline", "setup", "--province", "999"])
    assert bad.exit_code == 2


def test_instance_config_file_is_loaded(monkeypatch, tmp_path, other_app):
    import config as config_module

    (tmp_path / "config.py").write_text("TIPLINE_INBOX_PAGE_SIZE = 7\n")
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    app = other_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["TIPLINE_INBOX_PAGE_SIZE"] == 7
