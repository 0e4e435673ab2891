"""The staff menu's unread-alerts count: kept per user (after) or read on every page (before).

    .venv/bin/python bench/alerts_badge.py --requests 300
    .venv/bin/python bench/alerts_badge.py --database postgres

Sets up a database as bench/profile_requests.py does (30 tips, a village leader signed in
with their new-tip alerts unread), then times the inbox (/staff/) and a tip page through
Flask's test client in one process: with the count as shipped (cached), and with
`unread_alerts()` reading the database each time (the code before the cache), alternating
rounds, next to bare Flask's GET / (bench/bare.py) in the same run. Prints wall and CPU
time per request (best of 5 rounds) and SQL statements per request.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402 - bench/load.py, next to this file
from profile_requests import Driver, bare_client, best_of  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=load.bounded(10, 2000), default=300)
    args = parser.parse_args()

    run = load.Run(load.parse_args(["--database", args.database]))
    timer = threading.Timer(600, lambda: (run.cleanup(), os._exit(3)))
    timer.daemon = True
    timer.start()
    try:
        places = run.setup_database()
        os.environ.update(run.env)
        os.environ["RATELIMIT_ENABLED"] = "false"
        sys.path.insert(0, str(load.ROOT))
        from sqlalchemy import event

        from tipline import create_app
        from tipline.alerts import inbox
        from tipline.extensions import db

        app = create_app()
        shipped = inbox.cached_unread_count
        drivers = {kind: Driver(app, kind, places, b"") for kind in ("inbox", "tip_page")}
        with app.app_context():
            engine = db.engine
        statements = [0]

        @event.listens_for(engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            statements[0] += 1

        results = {}
        ways = (("before", inbox.unread_count), ("after", shipped))
        for kind, driver in drivers.items():
            for _round in range(5):  # alternating, so that the shared machine's noise hits both
                for label, count in ways:
                    inbox.cached_unread_count = count
                    for _ in range(5):  # warm-up
                        driver.one()
                    statements[0] = 0
                    driver.one()
                    queries = statements[0]
                    wall, cpu = best_of(1, args.requests // 5, driver.one)
                    old = results.get((kind, label), (wall, cpu, queries))
                    results[(kind, label)] = (min(wall, old[0]), min(cpu, old[1]), queries)
        inbox.cached_unread_count = shipped
        bare, bare_cpu = best_of(5, args.requests, bare_client())
        print(f"{args.database}, {args.requests // 5} requests x best of 5 rounds, one process")
        print(f"bare Flask GET /: {bare * 1000:.3f} ms wall, {bare_cpu * 1000:.3f} ms CPU")
        for (kind, label), (wall, cpu, queries) in results.items():
            print(
                f"{kind:<9}{label:<7}{wall * 1000:7.2f} ms wall {cpu * 1000:7.2f} ms CPU "
                f"{queries:3d} SQL statements  = {wall / bare:6.1f} x bare"
            )
        for kind in drivers:
            saved = results[(kind, "before")][0] - results[(kind, "after")][0]
            print(f"{kind}: the kept count saves {saved * 1000:.2f} ms per page")
    finally:
        run.cleanup()
        timer.cancel()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
