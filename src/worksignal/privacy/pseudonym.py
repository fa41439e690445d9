"""Keyed HMAC-SHA256 pseudonyms: the same person gets the same `person_key` under one key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

import pyarrow as pa

from worksignal.config import setting
from worksignal.errors import PseudonymKeyError

KEY_ENV = "WORKSIGNAL_KEY"
PERSON_KEY_CHARS = 24  # 96 bits of the HMAC: collision-free at any organisation's size


def load_key(key_file: str | Path | None = None, *, create: bool = True) -> bytes:
    """The key from WORKSIGNAL_KEY, else from the key file, created on first use with a notice."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return from_env.encode("utf-8")
    path = Path(setting("key_file", str(key_file) if key_file else None)).expanduser()
    if path.is_file():
        key = path.read_bytes().strip()
        if len(key) < 16:
            raise PseudonymKeyError(f"key file {path} holds under 16 bytes; restore it from your backup.")
        return key
    if not create:
        raise PseudonymKeyError(f"no key: set {KEY_ENV} or create the key file {path}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
    except FileExistsError:
        return load_key(path, create=False)
    except OSError as exc:
        raise PseudonymKeyError(f"cannot create key file {path} ({exc}); set {KEY_ENV} instead.") from exc
    print(
        f"worksignal: created a new pseudonymisation key at {path}. Back it up: without it, "
        "new data cannot be linked to the people already in the store.",
        file=sys.stderr,
    )
    return key


def normalise_identity(identity: str) -> str:
    """Emails and ids compare case- and space-insensitively."""
    return identity.strip().casefold()


class Pseudonymiser:
    """Maps raw identities to person keys, caching per identity (organisations repeat a lot)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, str] = {}

    def person_key(self, identity: str | None) -> str | None:
        if identity is None or not identity.strip():
            return None
        cached = self._cache.get(identity)
        if cached is None:
            digest = hmac.new(self._key, normalise_identity(identity).encode(), hashlib.sha256)
            cached = self._cache[identity] = digest.hexdigest()[:PERSON_KEY_CHARS]
        return cached

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Replace the `identity` column (and a `manager` one) with pseudonyms."""
        for column, target in (("identity", "person_key"), ("manager", "manager_key")):
            if column in batch.schema.names:
                index = batch.schema.get_field_index(column)
                keys = pa.array([self.person_key(v) for v in batch.column(index).to_pylist()], pa.string())
                batch = batch.set_column(index, target, keys)
        return batch
