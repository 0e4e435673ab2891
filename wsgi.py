"""WSGI entry point: `gunicorn wsgi:app`."""

from tipline import create_app

app = create_app()
