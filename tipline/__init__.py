"""Tipline: residents' tips for the safe residential area programme (Khu dân cư an toàn về ANTT)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, has_request_context, request
from flask.logging import default_handler
from flask_babel import get_locale
from flask_talisman import Talisman
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

import config as config_module
from tipline import api
from tipline.accounts.models import Role, User
from tipline.accounts.services import load_session_user
from tipline.accounts.views import bp as account_bp
from tipline.admin.views import bp as admin_bp
from tipline.alerts.push import bp as push_bp
from tipline.alerts.sms_views import bp as sms_bp
from tipline.alerts.views import admin_bp as alerts_admin_bp
from tipline.alerts.views import bp as alerts_bp
from tipline.cli import tipline_cli
from tipline.core import assets, bodies, i18n, security, templating, throttle
from tipline.core.http import register as register_http_errors
from tipline.core.i18n import select_locale
from tipline.core.privacy import install_log_filters
from tipline.extensions import babel, csrf, db, limiter, login_manager, migrate
from tipline.ops.views import bp as ops_bp
from tipline.posters.views import bp as posters_bp
from tipline.public.views import bp as public_bp
from tipline.reports.views import bp as reports_bp
from tipline.reports.views import public_bp as reports_public_bp
from tipline.sms.views import admin_bp as sms_admin_bp
from tipline.sms.views import bp as sms_intake_bp
from tipline.staff.views import bp as staff_bp
from tipline.teams.views import bp as teams_bp
from tipline.tips.models import IdentityTier, Outcome, TipStatus
from tipline.tips.workflow import Action

LOG_FORMAT = "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"
LOG_DATEFMT = "%Y-%m-%d %H:%M %z"

CSP = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "worker-src": "'self'",  # the site's and the push service workers (no blob: workers)
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "(self)",
    "payment": "()",
    "usb": "()",
    "interest-cohort": "()",
}


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__, instance_path=str(config_module.INSTANCE_DIR), instance_relative_config=True
    )
    production = os.environ.get("TIPLINE_ENV") == "production"
    app.config.from_object(config_module.ProductionConfig if production else config_module.Config)
    app.config.from_pyfile("config.py", silent=True)
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config["TIPLINE_PRODUCTION"] = production
    bodies.init_app(app)  # a cap for every kind of request body

    hops = int(app.config.get("TIPLINE_PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    _private_dir(Path(app.instance_path))
    if production:
        config_module.ProductionConfig.check(app.config)
    elif not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    _private_dir(Path(app.config["UPLOAD_DIR"]))
    _tune_engine(app)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)

    install_log_filters()
    # Flask's error log runs inside residents' requests: its times, like every time a
    # resident's action causes, are kept to the minute.
    default_handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATEFMT))
    return app


def _private_dir(path: Path) -> None:
    """A folder of the app's own (instance/, uploads): the owner's only, made so if new."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened


def _instance_secret(instance: Path) -> str:
    """A development secret generated once and kept in instance/ (never committed)."""
    path = instance / "secret_key"
    try:
        # Created owner-only in one step: never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as secret_file:
        secret_file.write(secrets.token_hex(32))
    return path.read_text().strip()


def _tune_engine(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 15})
    elif uri.startswith("postgresql"):
        options.setdefault("pool_size", app.config["TIPLINE_DB_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["TIPLINE_DB_MAX_OVERFLOW"])
        options.setdefault("pool_recycle", 1800)
        options.setdefault("pool_timeout", 10)
        timeout = int(app.config["TIPLINE_DB_STATEMENT_TIMEOUT_MS"])
        options.setdefault(
            "connect_args",
            {"options": f"-c statement_timeout={timeout}", "connect_timeout": 5},
        )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    limiter.init_app(app)
    throttle.init_app(app, limiter)
    # Talisman keeps its settings on the instance: one per app, not a shared extension.
    Talisman(
        app,
        force_https=app.config["TIPLINE_PRODUCTION"],
        strict_transport_security=app.config["TIPLINE_PRODUCTION"],
        session_cookie_secure=app.config["TIPLINE_PRODUCTION"],
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        frame_options="DENY",
        content_security_policy=CSP,
        # no-referrer: not even our own pages learn where a visitor came from. Flask-WTF's
        # HTTPS referrer check is replaced by an Origin check (tipline/core/security.py).
        referrer_policy="no-referrer",
        permissions_policy=PERMISSIONS,
    )
    security.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    login_manager.login_message = None
    # No session protection: Flask-Login's would keep a hash of the address and user agent
    # in the session cookie (issue 5: nothing derived from them is kept). Staff sessions
    # end instead by the session version (password change, deactivation), the idle
    # timeout and sign-out, and the cookie is HttpOnly, SameSite=Lax, Secure in production.
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return load_session_user(user_id)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            _sqlite_pragmas()


def _sqlite_pragmas() -> None:
    # pysqlite opens transactions late and would let a SAVEPOINT commit on release;
    # take transaction control back, as SQLAlchemy's SQLite notes recommend.
    @event.listens_for(db.engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(db.engine, "begin")
    def _on_begin(connection) -> None:
        # A request that writes takes the write lock up front: a deferred transaction
        # that read before another writer committed could not write at all.
        writing = has_request_context() and request.method not in {"GET", "HEAD", "OPTIONS"}
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _select_locale() -> str:
    return select_locale()


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(public_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(alerts_bp, url_prefix="/staff/thong-bao")
    app.register_blueprint(alerts_admin_bp, url_prefix="/admin/thong-bao-loi")
    app.register_blueprint(sms_bp, url_prefix="/staff/settings/notifications/sms")
    app.register_blueprint(push_bp)  # /staff/push, /tra-cuu/push and their service workers
    app.register_blueprint(account_bp, url_prefix="/staff/tai-khoan")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(teams_bp, url_prefix="/staff/to-chuc")
    app.register_blueprint(posters_bp, url_prefix="/staff/ap-phich")
    app.register_blueprint(sms_intake_bp)  # /sms/webhook/<gateway>
    app.register_blueprint(sms_admin_bp, url_prefix="/admin/sms-gateways")
    app.register_blueprint(reports_public_bp)
    app.register_blueprint(reports_bp, url_prefix="/staff/bao-cao")
    api.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    register_http_errors(app, session=db.session, limiter=limiter)


def register_commands(app: Flask) -> None:
    app.cli.add_command(tipline_cli)


def register_template_helpers(app: Flask) -> None:
    templating.register(app)
    # The enums templates compare with: registered here, so that core knows no feature.
    app.jinja_env.globals.update(
        TipStatus=TipStatus,
        Outcome=Outcome,
        IdentityTier=IdentityTier,
        Role=Role,
        Action=Action,
        get_locale=get_locale,
    )

    assets.init_app(app)
    i18n.init_app(app)
