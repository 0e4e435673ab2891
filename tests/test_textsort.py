"""The app's Vietnamese sort key against ICU's order (vi-u-kn) of real unit names.

tests/data/icu-vi-order.json is ICU's order, written by tests/data/icu_order.py with Node's
Intl.Collator (ICU) from the vietnam-provinces package and the app's 2024 units file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from tipline.core.textsort import proper_name, unit_key, vi_key

DATA = Path(__file__).parent / "data" / "icu-vi-order.json"


@cache
def icu_lists() -> dict[str, list]:
    return json.loads(DATA.read_text(encoding="utf-8"))["lists"]


def inversions(rows: list) -> list[tuple[str, str]]:
    """Neighbours that ICU orders one way and the app's key the other (or ties wrongly)."""
    wrong = []
    for (before, before_kind, _), (after, after_kind, same) in zip(rows, rows[1:], strict=False):
        left = vi_key(proper_name(before, before_kind))[:3]
        right = vi_key(proper_name(after, after_kind))[:3]
        if (left != right) if same else not (left < right):
            wrong.append((before, after))
    return wrong


def test_the_data_holds_every_commune_of_the_country():
    lists = icu_lists()
    assert len(lists["communes_2025"]) == 3321
    assert len(lists["units_2024"]) > 10000
    assert sum(len(rows) for name, rows in lists.items() if name.startswith("villages")) > 1000


@pytest.mark.parametrize("name", sorted(json.loads(DATA.read_text(encoding="utf-8"))["lists"]))
def test_key_orders_units_as_icu_does(name):
    rows = icu_lists()[name]
    assert inversions(rows) == []
    # Sorting the shuffled list by the app's key gives ICU's order, ties aside.
    shuffled = sorted(rows, key=lambda row: row[0][::-1])
    ordered = sorted(shuffled, key=lambda row: unit_key(row[0], row[1]))
    proper = [vi_key(proper_name(n, k))[:3] for n, k, _ in ordered]
    assert proper == [vi_key(proper_name(n, k))[:3] for n, k, _ in rows]


def test_the_seven_thanh_hoa_inversions_are_gone():
    names = ["Bát Mọt", "Ba Đình", "Hạc Thành", "Hà Long", "Nam Xuân", "Na Mèo"]
    assert sorted(names, key=vi_key) == [
        "Ba Đình", "Bát Mọt", "Hà Long", "Hạc Thành", "Na Mèo", "Nam Xuân",
    ]  # fmt: skip


def test_letters_then_tones_then_case_and_numbers_by_value():
    names = ["Thôn Tây", "Thôn Đông", "Thôn 10", "Thôn 2", "Ân", "An", "Ăn", "Bình", "Ba"]
    assert sorted(names, key=vi_key) == [
        "An", "Ăn", "Ân", "Ba", "Bình", "Thôn 2", "Thôn 10", "Thôn Đông", "Thôn Tây",
    ]  # fmt: skip
    assert sorted(["Hạ", "Há", "Hã", "Hả", "Hà", "Ha"], key=vi_key) == [
        "Ha", "Hà", "Hả", "Hã", "Há", "Hạ",
    ]  # fmt: skip
    assert sorted(["Khu A", "khu a"], key=vi_key) == ["khu a", "Khu A"]


def test_kind_words_are_not_part_of_the_order():
    assert proper_name("Phường Hàm Rồng", "phường") == "Hàm Rồng"
    assert proper_name("Tổ dân phố 5", "tổ") == "5"
    assert proper_name("Khu phố 3", "khu") == "3"
    assert proper_name("Thôn Bản Lát", "thôn") == "Bản Lát"
    assert proper_name("Xã  Đại Hải", "xã") == "Đại Hải"
    assert proper_name("Thôn", "thôn") == "Thôn"
    units = [("Xã Bát Mọt", "xã"), ("Phường Hạc Thành", "phường"), ("Xã Ba Đình", "xã")]
    assert [n for n, _ in sorted(units, key=lambda u: unit_key(*u))] == [
        "Xã Ba Đình", "Xã Bát Mọt", "Phường Hạc Thành",
    ]  # fmt: skip
