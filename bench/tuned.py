"""wsgi.py with configuration overrides, for trying a setting without editing the app.

bench/load.py serves `tuned:app` instead of `wsgi:app` when given `--override NAME=VALUE`;
the overrides arrive as a JSON object in TIPLINE_BENCH_OVERRIDES. Only settings read per
request take effect this way (e.g. MAX_FORM_MEMORY_SIZE), not those create_app() has
already used (engine options, extensions' set-up).
"""

import json
import os

from wsgi import app

app.config.update(json.loads(os.environ.get("TIPLINE_BENCH_OVERRIDES") or "{}"))
