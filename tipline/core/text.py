"""Cleaning what people type before it is validated or stored."""

from __future__ import annotations

import re
import unicodedata

_KEEP = {"\n", "\t"}


def clean_text(value):
    """Drop control characters (NUL and the like; PostgreSQL refuses NUL), unify line ends, strip.

    Non-strings (None, uploaded files) pass through untouched.
    """
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(
        ch for ch in value if ch in _KEEP or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    return unicodedata.normalize("NFC", value).strip()


# Letters whose base is not a combining mark away from ASCII.
_FOLD_LETTERS = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ø": "o", "ł": "l"})
_SPACES = re.compile(r"\s+")


def fold(value: str | None) -> str:
    """Text for matching: lower case, no tone or letter marks ("Trộm cắp" → "trom cap", đ → d)."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFD", value.translate(_FOLD_LETTERS))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare.lower()).strip()


# A Vietnamese mobile or landline number: 0 or +84 / 84, then 9 digits.
_PHONE = re.compile(r"^(0|\+?84)(3|5|7|8|9|2)\d{8}$")


def normalize_phone(text: str | None) -> str:
    """A phone number as typed, without its spaces, dots and dashes ("" when none)."""
    return re.sub(r"[\s.-]", "", text or "")


def is_phone(value: str) -> bool:
    """Whether a normalized number is a Vietnamese phone number."""
    return bool(_PHONE.match(value))


# Row ids are 32-bit on PostgreSQL: a longer number would overflow the query (a 500).
MAX_ROW_ID = 2**31 - 1


def row_id(value: str | None) -> int | None:
    """A row id typed into a form or a URL: ASCII digits within the database's range."""
    if not value or len(value) > 10 or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ROW_ID else None
