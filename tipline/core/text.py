"""Cleaning what people type before it is validated or stored."""

from __future__ import annotations

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
