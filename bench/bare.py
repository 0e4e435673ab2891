"""The bare Flask baseline for bench/load.py: one route, no extensions, no database.

Served with the project's gunicorn.conf.py and the same workers and threads as the app,
so the ratio app/bare shows what Tipline's own work costs on this machine.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
