"""Vietnamese alphabetical order, with numbers in number order ("Thôn 2" before "Thôn 10").

Code-point order puts "Đông" after "Tây"; the Vietnamese alphabet is
a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y, and tone marks sort after
the letter they sit on.
"""

from __future__ import annotations

import re
import unicodedata

_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_ORDER = {letter: index for index, letter in enumerate(_ALPHABET)}
# Combining tone marks, in the conventional order: ngang, huyền, sắc, hỏi, ngã, nặng.
_TONES = {"\u0300": 1, "\u0301": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
_BASE_MARKS = {"\u0306", "\u0302", "\u031b"}  # breve, circumflex, horn: part of the letter
_NUMBER = re.compile(r"(\d+)")


def _letters(word: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    primary: list[int] = []
    tones: list[int] = []
    for char in word.lower():
        decomposed = unicodedata.normalize("NFD", char)
        base = "".join(c for c in decomposed if c not in _TONES)
        tone = next((_TONES[c] for c in decomposed if c in _TONES), 0)
        letter = unicodedata.normalize("NFC", base)
        if letter in _ORDER:
            primary.append(_ORDER[letter])
        else:
            stripped = "".join(
                c for c in unicodedata.normalize("NFD", letter) if c not in _BASE_MARKS
            )
            primary.append(100 + ord(stripped[:1] or " "))
        tones.append(tone)
    return tuple(primary), tuple(tones)


def vi_key(text: str) -> tuple:
    """A sort key for Vietnamese names."""
    parts = []
    tones = []
    for chunk in _NUMBER.split(text):
        if not chunk:
            continue
        if chunk.isdigit():
            parts.append((0, int(chunk), ()))
        else:
            primary, tone = _letters(chunk)
            parts.append((1, 0, primary))
            tones.append(tone)
    return tuple(parts), tuple(tones)
