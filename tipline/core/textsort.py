"""Vietnamese alphabetical order, as ICU's Vietnamese collation with numbers in number
order (`vi-u-kn`) has it, without needing ICU at run time (PyICU has no wheels).

Code-point order puts "Đông" after "Tây"; the Vietnamese alphabet is
a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y. ICU compares in three passes:
first the letters of the whole name (a space before any letter, so word by word: "Na Mèo"
before "Nam Xuân"; digits as one number: "Thôn 2" before "Thôn 10"), then the tone marks
(none, huyền, hỏi, ngã, sắc, nặng: "Hà Long" before "Hạc Thành" is decided by the letters,
"Ha" before "Hà" by the tones), then case (lower first). tests/test_textsort.py checks this
key against ICU's order of every commune in the country.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The Vietnamese alphabet inside the Latin one (f, j, w, z occur in minority-language names).
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_ORDER = {letter: index for index, letter in enumerate(_ALPHABET)}
# Combining tone marks in ICU's Vietnamese order: huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Punctuation in ICU's root order; every punctuation mark comes after a space and before digits.
_PUNCTUATION = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_SPACE, _MARK, _NUMBER, _LETTER = 0, 1, 2, 3
_TOKENS = re.compile(r"\d+|\s+|.", re.DOTALL)

# Kind words that come before a unit's proper name, longest first ("Tổ dân phố" before "Tổ").
KIND_WORDS = tuple(
    sorted(
        (
            "tỉnh", "thành phố", "huyện", "quận", "thị xã", "xã", "phường", "thị trấn",
            "đặc khu", "thôn", "bản", "làng", "xóm", "ấp", "buôn", "plei", "sóc",
            "tổ dân phố", "khu phố", "khu dân cư", "tiểu khu", "khóm", "khu", "tổ",
            "cụm dân cư",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip


@lru_cache(maxsize=4096)
def _char(char: str) -> tuple[tuple[int, int], int, int]:
    """(primary, secondary, tertiary) weights of one character."""
    lower = char.lower()
    tertiary = int(lower != char)
    decomposed = unicodedata.normalize("NFD", lower)
    tone = next((_TONES[c] for c in decomposed if c in _TONES), 0)
    letter = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    if letter in _ORDER:
        return (_LETTER, _ORDER[letter]), tone, tertiary
    if letter.isalpha():
        base = "".join(c for c in unicodedata.normalize("NFD", letter) if c.isalpha())
        rank = _ORDER.get(base[:1], 1000 + ord(base[:1] or letter[0]))
        return (_LETTER, rank), tone or 9, tertiary
    position = _PUNCTUATION.find(char)
    return (_MARK, position if position >= 0 else 100 + ord(char)), 0, 0


def vi_key(text: str) -> tuple:
    """A sort key for Vietnamese names: ICU's `vi-u-kn` order, then the text itself."""
    text = " ".join(text.split())
    primary: list[tuple[int, int]] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for token in _TOKENS.findall(text):
        if token.isdigit():
            primary.append((_NUMBER, int(token)))
            secondary.append(0)
            tertiary.append(0)
        elif token.isspace():
            primary.append((_SPACE, 0))
            secondary.append(0)
            tertiary.append(0)
        else:
            weights, tone, case = _char(token)
            primary.append(weights)
            secondary.append(tone)
            tertiary.append(case)
    return tuple(primary), tuple(secondary), tuple(tertiary), text


def proper_name(name: str, kind: str | None = None) -> str:
    """The name without its leading kind word: "Phường Hàm Rồng" -> "Hàm Rồng".

    The longest kind word the name starts with, the unit's own kind among them (a village
    imported as "khu" may be named "Khu phố 3"). A name that is only a kind word stays whole.
    """
    name = " ".join(name.split())
    lowered = name.lower()
    candidates = sorted({kind.lower(), *KIND_WORDS} if kind else KIND_WORDS, key=len, reverse=True)
    for word in candidates:
        if word and lowered.startswith(word + " ") and len(name) > len(word) + 1:
            return name[len(word) + 1 :]
    return name


def unit_key(name: str, kind: str | None = None) -> tuple:
    """Sort key of a unit: its proper name in Vietnamese order, then its full name."""
    return vi_key(proper_name(name, kind)), vi_key(name)
