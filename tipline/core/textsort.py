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

# The Vietnamese alphabet inside the Latin one (f, j, w, z occur in minority-language names).
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_ORDER = {letter: index for index, letter in enumerate(_ALPHABET)}
# Combining tone marks in ICU's Vietnamese order: huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Punctuation in ICU's root order; every punctuation mark comes after a space and before digits.
_PUNCTUATION = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_TOKENS = re.compile(r"\d+|.", re.DOTALL)

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


# Primary weights are plain integers, in ICU's order of the groups: a space, punctuation,
# numbers (by value), letters.
_MARK, _NUMBER, _LETTER = 1_000, 10_000, 3_000_000_000
_BIGGEST = 2_999_990_000 - _NUMBER  # numbers past this compare equal (none in unit names)
_WEIGHTS: dict[str, tuple[int, int, int]] = {" ": (0, 0, 0)}


def _weigh(token: str) -> tuple[int, int, int]:
    """(primary, secondary, tertiary) weights of one character or one run of digits."""
    if token.isdecimal():
        return _NUMBER + min(int(token), _BIGGEST), 0, 0
    lower = token.lower()
    tertiary = int(lower != token)
    decomposed = unicodedata.normalize("NFD", lower)
    tone = next((_TONES[c] for c in decomposed if c in _TONES), 0)
    letter = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    if letter in _ORDER:
        return _LETTER + _ORDER[letter], tone, tertiary
    if letter.isalpha():
        base = "".join(c for c in unicodedata.normalize("NFD", letter) if c.isalpha())
        rank = _ORDER.get(base[:1], 1000 + ord(base[:1] or letter[0]))
        return _LETTER + rank, tone or 9, tertiary
    position = _PUNCTUATION.find(token)
    return _MARK + (position if position >= 0 else 100 + ord(token)), 0, 0


def vi_key(text: str) -> tuple:
    """A sort key for Vietnamese names: ICU's `vi-u-kn` order, then the text itself."""
    text = " ".join(text.split())
    weights = []
    for token in _TOKENS.findall(text):
        weight = _WEIGHTS.get(token)
        if weight is None:
            if len(_WEIGHTS) > 20_000:  # numbers are tokens too: keep the table bounded
                _WEIGHTS.clear()
                _WEIGHTS[" "] = (0, 0, 0)
            weight = _WEIGHTS[token] = _weigh(token)
        weights.append(weight)
    primary, secondary, tertiary = zip(*weights, strict=True) if weights else ((), (), ())
    return primary, secondary, tertiary, text


def proper_name(name: str, kind: str | None = None) -> str:
    """The name without its leading kind word: "Phường Hàm Rồng" -> "Hàm Rồng".

    The longest kind word the name starts with, the unit's own kind among them (a village
    imported as "khu" may be named "Khu phố 3"). A name that is only a kind word stays whole.
    """
    name = " ".join(name.split())
    lowered = name.lower()
    first = lowered.split(" ", 1)[0]
    kind = kind.lower() if kind else ""
    candidates = _BY_FIRST_WORD.get(first, ())
    if kind.split(" ", 1)[0] == first and kind not in candidates:
        candidates = tuple(sorted((kind, *candidates), key=len, reverse=True))
    for word in candidates:
        if lowered.startswith(word + " ") and len(name) > len(word) + 1:
            return name[len(word) + 1 :]
    return name


# Kind words by their first word, longest first: a name is checked against a few only.
_BY_FIRST_WORD: dict[str, tuple[str, ...]] = {}
for _word in KIND_WORDS:
    _BY_FIRST_WORD[_word.split(" ", 1)[0]] = (
        *_BY_FIRST_WORD.get(_word.split(" ", 1)[0], ()),
        _word,
    )


def unit_key(name: str, kind: str | None = None) -> tuple:
    """Sort key of a unit: its proper name in Vietnamese order, then its full name (units
    with the same proper name: "Phường Tân An" and "Xã Tân An")."""
    return vi_key(proper_name(name, kind)), name
