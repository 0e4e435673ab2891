"""What declaring the APIs once costs per request: the staff API and Open311, in-process.

    .venv/bin/python bench/api_declared.py [--tree DIR] [--rounds 5] [--requests 200]

Builds a throwaway SQLite database (create_all) with one commune, two villages, a police
account, a reading partner key and 40 tips, then times, with Flask's test client (no
network, no server), rounds of: GET /api/v1/tips, GET /api/v1/tips/{id}, POST a note on a
tip, GET /open311/v2/requests.json, GET /open311/v2/services.xml, and a baseline
(/healthz-like: GET /open311/v2/discovery.json is not it; the baseline is a bare Flask
route added here, in the same app). Prints the median microseconds of each per round and
their ratio to the baseline.

``--tree DIR`` runs the same against another checkout of Tipline (e.g. the commit before
issue 19, exported with ``git archive``), so both are measured in the same run:

    mkdir -p /tmp/base && git archive 127c874 | tar -x -C /tmp/base
    .venv/bin/python bench/api_declared.py --tree /tmp/base
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--requests", type=int, default=200)
args = parser.parse_args()
sys.path.insert(0, args.tree)

from tipline import create_app  # noqa: E402
from tipline.accounts.models import Role  # noqa: E402
from tipline.accounts.services import create_user, grant  # noqa: E402
from tipline.api.keys import create_partner_key, issue_staff_token  # noqa: E402
from tipline.extensions import db  # noqa: E402
from tipline.places.models import UnitLevel  # noqa: E402
from tipline.places.services import add_unit  # noqa: E402
from tipline.tips.models import Category  # noqa: E402
from tipline.tips.services import TipDraft, new_submission_key, submit_tip  # noqa: E402

folder = tempfile.mkdtemp(prefix="bench-api-")
app = create_app(
    {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
        "UPLOAD_DIR": f"{folder}/uploads",
        "RATELIMIT_ENABLED": False,
        "TIPLINE_API_KEY_LIMIT": "1000000 per hour",
        "TIPLINE_API_TOKEN_LIMIT": "1000000 per hour",
        "TIPLINE_API_PUBLIC_LIMIT": "1000000 per hour",
    }
)
app.add_url_rule("/bench-baseline", "bench_baseline", lambda: "ok")

with app.app_context():
    db.create_all()
    province = add_unit(code="T", name="Tỉnh", level=UnitLevel.PROVINCE, kind="tỉnh")
    commune = add_unit(code="A", name="Xã A", level=UnitLevel.COMMUNE, kind="xã", parent=province)
    villages = [
        add_unit(
            code=f"A{i}", name=f"Thôn {i}", level=UnitLevel.VILLAGE, kind="thôn", parent=commune
        )
        for i in (1, 2)
    ]
    theft = Category(code="theft", name="Trộm cắp tài sản", sort_order=0)
    db.session.add(theft)
    db.session.flush()
    police = create_user("police", "Police", "bench-password-api-1")
    grant(police, Role.COMMUNE_POLICE, commune)
    admin = create_user("admin", "Admin", "bench-password-api-2")
    grant(admin, Role.ADMIN, province)
    tips = [
        submit_tip(
            TipDraft(
                submission_key=new_submission_key(),
                category=theft,
                unit=villages[i % 2],
                description=f"Mất trộm xe máy số {i} trước nhà văn hóa.",
            )
        ).tip
        for i in range(40)
    ]
    _key, partner = create_partner_key(
        admin, name="Bench", unit=province, may_submit=True, may_read=True, may_name=False
    )
    staff = issue_staff_token(police).credential
    db.session.commit()
    public_id = tips[0].public_id

client = app.test_client()
auth = {"Authorization": f"Bearer {staff}"}
key = {"X-Api-Key": partner}
version = [1]


def note():
    answer = client.post(
        f"/api/v1/tips/{public_id}/actions",
        headers=auth,
        json={"action": "note", "note": "Đã xem.", "version": version[0]},
    )
    version[0] = answer.get_json()["tip"]["version"]
    return answer


CASES = {
    "baseline": lambda: client.get("/bench-baseline"),
    "staff list": lambda: client.get("/api/v1/tips", headers=auth),
    "staff tip": lambda: client.get(f"/api/v1/tips/{public_id}", headers=auth),
    "staff note": note,
    "open311 list": lambda: client.get("/open311/v2/requests.json", headers=key),
    "open311 services.xml": lambda: client.get("/open311/v2/services.xml"),
}

timings = {name: [] for name in CASES}
for _round in range(args.rounds):
    for name, call in CASES.items():  # interleaved: noise hits all alike
        spent = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = call()
            spent.append(time.perf_counter() - started)
            assert response.status_code == 200, (name, response.status_code, response.data[:200])
        timings[name].append(statistics.median(spent) * 1e6)

base = statistics.median(timings["baseline"])
import tipline  # noqa: E402

print(f"tree: {args.tree} (tipline from {Path(tipline.__file__).parent})")
print(f"{'case':<22}{'median µs':>12}{'× baseline':>12}")
for name, rounds in timings.items():
    value = statistics.median(rounds)
    print(f"{name:<22}{value:>12.0f}{value / base:>12.1f}")
