"""Wrong follow-up codes are slowed down, never the real tipster; wrong answers look alike."""

from __future__ import annotations

import hmac
import logging
import os
import re
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import event, update

from tipline.extensions import db, limiter
from tipline.public import guard
from tipline.tips.models import Tip
from tipline.tips.services import TipDraft, new_submission_key, submit_tip

from .conftest import settings_like

# Inside one 15-minute window (and one hour of the client hash): 10:01 UTC.
START = datetime(2026, 3, 12, 10, 1, tzinfo=UTC)
WRONG = "2222-3333-4444-5555"
LIMITS = {
    "TIPLINE_FOLLOWUP_WRONG_PER_CLIENT": 4,
    "TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE": 3,
    "TIPLINE_FOLLOWUP_WRONG_PER_CLIENT_REFERENCE": 1,
    "TIPLINE_FOLLOWUP_WRONG_WINDOW_MINUTES": 15,
}


def redis_url() -> str | None:
    return os.environ.get("TIPLINE_TEST_REDIS_URL")


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def guarded(other_app, app, world, clock):
    """An app with the guard on: the limiter in Redis when the run has one, else in memory."""

    def make(**overrides):
        prefix = f"tipline-guard-{uuid.uuid4().hex}"
        settings = settings_like(
            app,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=redis_url() or "memory://",
            RATELIMIT_KEY_PREFIX=prefix,
            TIPLINE_FOLLOWUP_LIMIT="1000 per hour",  # the per-request limit is not tested here
            **{**LIMITS, **overrides},
        )
        made.append(prefix)
        return other_app(settings)

    made: list[str] = []
    yield make
    url = redis_url()
    if url:
        import redis

        server = redis.Redis.from_url(url)
        try:
            for prefix in made:
                keys = list(server.scan_iter(match=f"*{prefix}*"))
                if keys:
                    server.delete(*keys)
        finally:
            server.close()


@pytest.fixture
def receipt(world):
    made = submit_tip(
        TipDraft(
            submission_key=new_submission_key(),
            category=world.theft,
            unit=world.a1,
            description="Mất trộm xe máy trước cửa nhà văn hóa.",
        )
    )
    db.session.commit()
    return made.tip.reference, made.code


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=address)
    return client


def look_up(client, reference: str, code: str):
    return client.post("/tra-cuu", data={"reference": reference, "code": code})


def statuses(client, reference: str, code: str, times: int) -> list[int]:
    return [look_up(client, reference, code).status_code for _ in range(times)]


def unknown_reference(n: int) -> str:
    return f"TL-ZZZZ-{'23456789'[n % 8]}{'ABCDEFGH'[n // 8 % 8]}ZZ"


# ------------------------------------------------------------------ per client


def test_wrong_codes_slow_down_the_client_that_makes_them(guarded, receipt):
    guarded_app = guarded()
    guesser = client_at(guarded_app, "198.51.100.10")
    # Each guess on another reference: only the client's allowance is spent.
    answers = [look_up(guesser, unknown_reference(n), WRONG).status_code for n in range(5)]
    assert answers == [422, 422, 422, 422, 429]

    refused = look_up(guesser, *receipt)  # not even the right code is checked now
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    page = refused.get_data(as_text=True)
    assert "14 phút" in page  # 10:01 now; the window ends at 10:15
    assert "vẫn an toàn" in page
    assert refused.headers["Retry-After"] == str(14 * 60)

    other = client_at(guarded_app, "198.51.100.11")
    assert look_up(other, unknown_reference(9), WRONG).status_code == 422
    assert look_up(other, *receipt).status_code == 200


def test_right_codes_never_count(guarded, receipt):
    tipster = client_at(guarded(), "198.51.100.12")
    assert statuses(tipster, *receipt, times=12) == [200] * 12


def test_wrong_codes_count_under_any_spelling_of_the_reference(guarded, receipt):
    guesser = client_at(guarded(), "198.51.100.13")
    reference, _code = receipt
    spellings = [reference, reference.lower(), reference.replace("-", ""), reference[3:]]
    assert [look_up(guesser, s, WRONG).status_code for s in spellings] == [422, 422, 422, 429]


def test_json_clients_get_the_wait_in_json(guarded):
    guesser = client_at(guarded(TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=1), "198.51.100.14")
    look_up(guesser, unknown_reference(1), WRONG)
    refused = guesser.post(
        "/tra-cuu",
        data={"reference": unknown_reference(2), "code": WRONG},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(14 * 60)
    assert "14 phút" in refused.get_json()["error"]


# ------------------------------------------------------------------ per reference


def test_an_attack_on_a_reference_stops_its_guessers(guarded, receipt):
    guarded_app = guarded()
    reference, code = receipt
    guessers = [client_at(guarded_app, f"198.51.100.{20 + n}") for n in range(3)]
    assert [look_up(g, reference, WRONG).status_code for g in guessers] == [422, 422, 422]
    # The reference has had its 3 wrong codes: those who guessed wrong on it are refused...
    for g in guessers:
        assert look_up(g, reference, WRONG).status_code == 429
        assert look_up(g, reference, code).status_code == 429
    # ...and a newcomer gets one try, then joins them.
    newcomer = client_at(guarded_app, "198.51.100.30")
    assert statuses(newcomer, reference, WRONG, times=2) == [422, 429]
    # Other references are not affected.
    assert look_up(guessers[0], unknown_reference(3), WRONG).status_code == 422


def test_the_real_tipster_gets_in_during_an_attack_on_the_reference(guarded, receipt):
    guarded_app = guarded()
    reference, code = receipt
    for n in range(12):  # an attack from many addresses
        look_up(client_at(guarded_app, f"198.51.100.{40 + n}"), reference, WRONG)
    tipster = client_at(guarded_app, "192.0.2.200")
    assert look_up(tipster, reference, code).status_code == 200
    assert look_up(tipster, reference, code).status_code == 200


def test_a_tipster_who_mistypes_once_during_an_attack_still_gets_in(guarded, receipt):
    guarded_app = guarded(TIPLINE_FOLLOWUP_WRONG_PER_CLIENT_REFERENCE=2)
    reference, code = receipt
    for n in range(5):
        look_up(client_at(guarded_app, f"198.51.100.{60 + n}"), reference, WRONG)
    tipster = client_at(guarded_app, "192.0.2.201")
    typo = code[:-1] + ("3" if code.endswith("2") else "2")  # one symbol off, never the code
    assert look_up(tipster, reference, typo).status_code == 422
    assert look_up(tipster, reference, code).status_code == 200


# ------------------------------------------------------------------ the window


def test_limits_reset_when_the_window_ends(guarded, receipt, clock):
    guarded_app = guarded()
    reference, code = receipt
    guesser = client_at(guarded_app, "198.51.100.70")
    attackers = [client_at(guarded_app, f"198.51.100.{71 + n}") for n in range(3)]
    for a in attackers:
        look_up(a, reference, WRONG)
    assert look_up(attackers[0], reference, code).status_code == 429
    for n in range(4):
        look_up(guesser, unknown_reference(n), WRONG)
    assert look_up(guesser, unknown_reference(5), WRONG).status_code == 429

    clock.move_to(START.replace(minute=14, second=59))
    assert look_up(guesser, unknown_reference(5), WRONG).status_code == 429
    clock.move_to(START.replace(minute=15))
    assert look_up(guesser, unknown_reference(5), WRONG).status_code == 422
    assert look_up(attackers[0], reference, code).status_code == 200


def test_the_wait_is_counted_to_the_end_of_the_window(guarded, clock):
    clock.move_to(START.replace(minute=29, second=30))
    guesser = client_at(guarded(TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=1), "198.51.100.80")
    look_up(guesser, unknown_reference(1), WRONG)
    refused = look_up(guesser, unknown_reference(1), WRONG)
    assert refused.headers["Retry-After"] == "30"
    assert "1 phút" in refused.get_data(as_text=True)


# ------------------------------------------------------------------ a failing store


class DeadStore:
    calls = 0

    def get(self, *_args, **_kwargs):
        DeadStore.calls += 1
        raise ConnectionError("redis is gone")

    incr = get


def test_a_failing_store_falls_back_to_counting_in_the_process(
    guarded, receipt, monkeypatch, caplog, clock
):
    guarded_app = guarded()
    DeadStore.calls = 0
    monkeypatch.setattr(guard, "_shared", DeadStore)
    caplog.set_level(logging.DEBUG)
    guesser = client_at(guarded_app, "198.51.100.90")
    answers = [look_up(guesser, unknown_reference(n), WRONG).status_code for n in range(5)]
    assert answers == [422, 422, 422, 422, 429]
    assert look_up(client_at(guarded_app, "198.51.100.91"), *receipt).status_code == 200
    # One try of the dead store, one warning (without any address), for half a minute.
    assert DeadStore.calls == 1
    warnings = [r for r in caplog.records if "follow-up guard" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "198.51.100" not in caplog.text

    clock.shift(guard.RETRY_STORE_SECONDS)
    assert look_up(guesser, unknown_reference(6), WRONG).status_code == 429  # still counted
    assert DeadStore.calls == 2  # the store was tried again
    assert len([r for r in caplog.records if "follow-up guard" in r.getMessage()]) == 2


def test_the_store_is_used_again_once_it_is_back(guarded, monkeypatch, clock):
    guarded_app = guarded()
    monkeypatch.setattr(guard, "_shared", DeadStore)
    guesser = client_at(guarded_app, "198.51.100.92")
    assert look_up(guesser, unknown_reference(1), WRONG).status_code == 422
    monkeypatch.undo()
    clock.shift(guard.RETRY_STORE_SECONDS)
    for n in range(4):
        assert look_up(guesser, unknown_reference(n), WRONG).status_code == 422
    # Four in the store: the one counted in the process during the outage is not added.
    assert look_up(guesser, unknown_reference(5), WRONG).status_code == 429


def test_guard_is_off_with_the_limiter(app, world, receipt):
    assert not limiter.enabled
    client = client_at(app, "198.51.100.95")
    assert statuses(client, receipt[0], WRONG, times=8) == [422] * 8


# ------------------------------------------------------------------ equal answers


class Work:
    """What one request does: SQL statements, HMACs computed and compared, store calls."""

    def __init__(self, monkeypatch):
        self.statements: list[str] = []
        self.macs = 0
        self.compares = 0
        self.store: list[str] = []
        real_new, real_compare = hmac.new, hmac.compare_digest

        def counting_new(*args, **kwargs):
            self.macs += 1
            return real_new(*args, **kwargs)

        def counting_compare(a, b):
            self.compares += 1
            return real_compare(a, b)

        monkeypatch.setattr(hmac, "new", counting_new)
        monkeypatch.setattr(hmac, "compare_digest", counting_compare)
        shared = guard._shared
        work = self

        class CountingStore:
            def get(self, name):
                work.store.append("get " + name.rsplit("/", 2)[-2])
                return shared().get(name)

            def incr(self, name, expiry, amount=1):
                work.store.append("incr " + name.rsplit("/", 2)[-2])
                return shared().incr(name, expiry, amount=amount)

        monkeypatch.setattr(guard, "_shared", CountingStore)

    def measure(self, app, request):
        self.statements, self.macs, self.compares, self.store = [], 0, 0, []

        def on_execute(_conn, _cursor, statement, _params, _context, _many):
            self.statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            response = request()
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return response, (list(self.statements), self.macs, self.compares, list(self.store))


def rename_tip(reference: str) -> None:
    """The same reference, no longer known: the next answer is an unknown reference's."""
    db.session.execute(
        update(Tip).where(Tip.reference == reference).values(reference="TL-9999-9999")
    )
    db.session.commit()


def same_answer(first, second) -> None:
    assert first.status_code == second.status_code
    assert first.get_data() == second.get_data()
    assert sorted(first.headers.items()) == sorted(second.headers.items())


@pytest.mark.commits  # compares the SQL statements of two answers (no fixture savepoints)
@pytest.mark.parametrize("url", ["/tra-cuu", "/tra-cuu/anh"])
def test_a_known_reference_with_a_wrong_code_answers_like_an_unknown_one(
    guarded, receipt, monkeypatch, url
):
    guarded_app = guarded(
        TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=50, TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE=50
    )
    reference, _code = receipt
    client = client_at(guarded_app, "198.51.100.100")
    look_up(client, unknown_reference(0), WRONG)  # caches warm
    work = Work(monkeypatch)

    def wrong():
        return client.post(url, data={"reference": reference, "code": WRONG})

    known, known_work = work.measure(guarded_app, wrong)
    rename_tip(reference)  # the same request again, now for an unknown reference
    unknown, unknown_work = work.measure(guarded_app, wrong)

    assert known.status_code == 422
    same_answer(known, unknown)
    assert known_work == unknown_work
    statements, macs, compares, store = known_work
    assert compares == 1  # the stored hash, or the dummy one
    assert macs > 0
    assert store == ["get client", "get reference", "incr client", "incr reference", "incr pair"]
    assert len([s for s in statements if "tips" in s]) == 1  # one indexed query


def test_known_and_unknown_references_are_refused_alike(guarded, receipt, monkeypatch):
    guarded_app = guarded(TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE=1)
    reference, _code = receipt
    other = unknown_reference(4)
    client = client_at(guarded_app, "198.51.100.101")
    look_up(client, reference, WRONG)
    look_up(client, other, WRONG)
    work = Work(monkeypatch)
    known, known_work = work.measure(guarded_app, lambda: look_up(client, reference, WRONG))
    unknown, unknown_work = work.measure(guarded_app, lambda: look_up(client, other, WRONG))
    assert known.status_code == 429
    same_answer(known, unknown)
    assert known_work == unknown_work
    assert known_work[0] == [] and known_work[2] == 0  # refused before any check


def test_wrong_answers_for_known_and_unknown_references_differ_only_by_the_typed_text(
    guarded, receipt
):
    guarded_app = guarded(TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=50)
    reference, _code = receipt
    other = "TL-ZZZZ-ZZZZ"
    client = client_at(guarded_app, "198.51.100.102")
    known = look_up(client, reference, WRONG)
    unknown = look_up(client, other, WRONG)
    assert known.status_code == unknown.status_code == 422
    assert known.get_data(as_text=True).replace(reference, "@") == unknown.get_data(
        as_text=True
    ).replace(other, "@")


def test_each_reference_gets_its_own_counter_known_or_not(app, world, receipt, clock):
    with app.test_request_context("/tra-cuu", environ_base={"REMOTE_ADDR": "198.51.100.103"}):
        window = int(START.timestamp() // 900)
        keys = {guard._keys(r, window).reference for r in (receipt[0], "TL-ZZZZ-ZZZZ", "xx", "yy")}
        same = guard._keys(receipt[0].lower().replace("-", ""), window).reference
        later = guard._keys(receipt[0], window + 1).reference
    assert len(keys) == 4
    assert same in keys
    assert later not in keys  # no key links one window to the next
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)


# ------------------------------------------------------------------ the store's keys


def test_the_store_holds_keyed_hashes_that_expire_with_the_window(guarded, receipt):
    url = redis_url()
    if not url:
        pytest.skip("TIPLINE_TEST_REDIS_URL is not set")
    import redis

    guarded_app = guarded()
    prefix = guarded_app.config["RATELIMIT_KEY_PREFIX"]
    look_up(client_at(guarded_app, "198.51.100.104"), receipt[0], WRONG)
    server = redis.Redis.from_url(url)
    try:
        keys = [k.decode() for k in server.scan_iter(match=f"*{prefix}/followup/*")]
        assert len(keys) == 3
        for key in keys:
            assert re.fullmatch(rf".*{prefix}/followup/(client|reference|pair)/[0-9a-f]{{32}}", key)
            assert 0 < server.ttl(key) <= 15 * 60
            assert receipt[0] not in key and "198.51.100" not in key
    finally:
        server.close()


@pytest.mark.parametrize("minutes", [60, 240])
def test_the_window_is_at_most_an_hour(guarded, minutes):
    guesser = client_at(
        guarded(TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=1, TIPLINE_FOLLOWUP_WRONG_WINDOW_MINUTES=minutes),
        "198.51.100.105",
    )
    look_up(guesser, unknown_reference(1), WRONG)
    refused = look_up(guesser, unknown_reference(1), WRONG)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(59 * 60)  # 10:01 now: the hour ends at 11:00
    assert "59 phút" in refused.get_data(as_text=True)


def test_adding_a_photo_goes_through_the_guard_too(guarded, receipt):
    guarded_app = guarded(TIPLINE_FOLLOWUP_WRONG_PER_CLIENT=1)
    reference, code = receipt
    guesser = client_at(guarded_app, "198.51.100.106")
    wrong = guesser.post("/tra-cuu/anh", data={"reference": reference, "code": WRONG})
    assert wrong.status_code == 422
    refused = guesser.post("/tra-cuu/anh", data={"reference": reference, "code": code})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(14 * 60)
    assert look_up(guesser, reference, code).status_code == 429  # one count for both pages
