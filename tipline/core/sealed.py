"""Personal data sealed at rest: push addresses and phone numbers (Fernet, from cryptography).

`seal(text)` gives a token to store, `unseal(token)` the text again. The key is
TIPLINE_DATA_KEY (one or more Fernet keys, comma-separated, the first one sealing: a new
key goes first and old tokens still open), or in development a key generated once into
instance/data_key like the secret key. A value to look up by (a phone number) is stored
beside its token as `lookup_hash(text)`, a keyed hash that reveals nothing.

A database dump alone then shows no push address and no phone number; whoever also holds
the key can read them, which is why production keeps the key out of the database's host.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

_CACHE_KEY = "tipline.sealed"


class SealError(ValueError):
    """A token this deployment's keys cannot open (another key, or damaged)."""


def instance_key(instance: Path) -> str:
    """A development key generated once and kept in instance/ (never committed)."""
    path = instance / "data_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as key_file:
        key_file.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def _keys() -> MultiFernet:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sealer = app.extensions.get(_CACHE_KEY)
    if sealer is None:
        configured = app.config.get("TIPLINE_DATA_KEY") or instance_key(Path(app.instance_path))
        keys = [Fernet(key.strip()) for key in configured.split(",") if key.strip()]
        sealer = app.extensions[_CACHE_KEY] = MultiFernet(keys)
    return sealer


def seal(text: str) -> str:
    return _keys().encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SealError("sealed value cannot be opened with this deployment's keys") from error


def lookup_hash(text: str, purpose: str) -> str:
    """A keyed hash of a value, to find its row without storing the value in the clear."""
    key = hashlib.sha256(("tipline-lookup:" + current_app.config["SECRET_KEY"]).encode()).digest()
    return hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()
