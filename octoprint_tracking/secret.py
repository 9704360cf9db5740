"""The local secret that keys file hashes: made at first start, kept in the plugin's
data folder, replaced on Reset ID. It never leaves the machine and is never logged."""

from __future__ import annotations

import os
import secrets

NAME = "file_hash.key"
SIZE = 32


def _path(folder: str) -> str:
    return os.path.join(folder, NAME)


def load(folder: str) -> bytes:
    """The key, made now if there is none (or it is unreadable)."""
    try:
        with open(_path(folder), "rb") as f:
            key = f.read()
        if len(key) == SIZE:
            return key
    except OSError:
        pass
    return replace(folder)


def replace(folder: str) -> bytes:
    """A new key: file hashes made before no longer match."""
    key = secrets.token_bytes(SIZE)
    os.makedirs(folder, exist_ok=True)
    tmp = _path(folder) + ".tmp"
    # Owner-only: the key is what keeps the hashes from being tested.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    os.replace(tmp, _path(folder))
    return key
