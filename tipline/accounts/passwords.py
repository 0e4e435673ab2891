"""The staff password policy: long enough, not common, not the account's own name."""

from __future__ import annotations

import gzip
import secrets
from functools import cache
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from tipline.core.text import fold

DATA = Path(__file__).parent / "data"
MAX_LENGTH = 128  # argon2 takes any length; this only bounds the work a form can ask for


@cache
def common_passwords() -> frozenset[str]:
    """Lower-cased common passwords shipped with the app (see data/README.md)."""
    words = gzip.decompress((DATA / "common-passwords.txt.gz").read_bytes()).decode().split()
    extra = (DATA / "vietnamese-passwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(
        [w.strip().lower() for w in words]
        + [w.strip().lower() for w in extra if w.strip() and not w.startswith("#")]
    )


def password_problems(password: str, *, username: str = "", full_name: str = "") -> list[str]:
    """What is wrong with a new password, as sentences for the form; empty when it is fine."""
    minimum = current_app.config["TIPLINE_PASSWORD_MIN_LENGTH"]
    problems = []
    if len(password) < minimum:
        problems.append(str(_l("Mật khẩu cần ít nhất %(n)s ký tự.", n=minimum)))
    if len(password) > MAX_LENGTH:
        problems.append(str(_l("Mật khẩu dài tối đa %(n)s ký tự.", n=MAX_LENGTH)))
    lowered = password.lower()
    folded = fold(password).replace(" ", "")
    if lowered in common_passwords() or folded in common_passwords():
        problems.append(str(_l("Mật khẩu này quá phổ biến, dễ bị đoán. Hãy chọn mật khẩu khác.")))
    elif len(set(password)) < 4:
        problems.append(str(_l("Mật khẩu lặp lại quá ít ký tự khác nhau.")))
    names = [fold(username)] + [fold(part) for part in full_name.split() if len(part) > 3]
    if any(name and len(name) > 2 and name.replace(" ", "") in folded for name in names):
        problems.append(str(_l("Mật khẩu không được chứa tên đăng nhập hay họ tên.")))
    return problems


# Without look-alikes (0/O, 1/l/I): read aloud or copied from a screen by a person.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def temporary_password() -> str:
    """A one-time password given by an administrator; 4 groups of 4 (about 79 bits)."""
    raw = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))
