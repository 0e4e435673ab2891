"""Extensions, created unbound and initialised in `create_app`."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy.engine import Connection

from tipline.core.db import Base
from tipline.core.privacy import client_bucket


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, which also honours a connection it was given.

    Flask-SQLAlchemy picks the engine of a model's bind key even for a session created
    with `bind=`; a session given a connection (the tests' transaction that is rolled back
    after each test, tests/conftest.py) must run on that connection.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and isinstance(self.bind, Connection):
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=client_bucket, default_limits=[])
