"""The example client of the docs (docs/examples/open311_client.py) against a live server."""

from __future__ import annotations

import importlib.util
import io
import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from tipline.api.keys import create_partner_key
from tipline.extensions import db
from tipline.tips.models import Tip

pytest.importorskip("requests")  # a docs dependency only, not in requirements.txt

CLIENT = Path(__file__).parent.parent / "docs" / "examples" / "open311_client.py"


class _Quiet(WSGIRequestHandler):
    def log(self, *args) -> None:
        pass


@pytest.fixture
def live(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="example-client", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_example_client_is_short():
    assert len(CLIENT.read_text().splitlines()) < 60


@pytest.mark.commits
def test_the_example_client_sends_a_tip_with_a_photo_and_reads_it(
    app, world, live, tmp_path, capsys
):
    _key, secret = create_partner_key(
        world.user("admin"),
        name="Ví dụ",
        unit=world.commune_a,
        may_submit=True,
        may_read=False,
        may_name=False,
    )
    db.session.commit()
    photo = tmp_path / "photo.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), (30, 120, 60)).save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())
    spec = importlib.util.spec_from_file_location("open311_client", CLIENT)
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)

    assert client.main(live, secret, str(photo)) == 0
    printed = capsys.readouterr().out
    assert "theft" in printed and "Trộm cắp tài sản" in printed
    assert "status: open" in printed
    db.session.expire_all()
    tip = db.session.scalar(select(Tip))
    assert tip.reference in printed and len(tip.photos) == 1
    assert tip.unit_id == world.commune_a.id and tip.place == "Kho lúa đầu thôn"
    # A refused request is explained, not a traceback.
    assert client.main(live, "tlp_000000000000_wrong", str(photo)) == 1
    assert "refused: 403" in capsys.readouterr().out
