"""Data keys for column encryption: where they come from (transit), how long
an unwrapped one may live in memory, and nothing else.

One HTTP round trip per value would cap an application at a few thousand
writes a second and make every read depend on the server's latency, so a
data key is reused — but only for ``max_uses`` values and ``max_age``
seconds, after which a fresh one is asked for. That bounds how much data one
leaked key exposes and how long a key the server has since retired keeps
working here. Unwrapped keys live only inside :class:`AESGCM` objects in this
process (never in a repr, a log, a pickle or the database); the database
holds them wrapped under the transit key, beside the values they protect.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NoReturn, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..models import DataKey

__all__ = ["ColumnKeys", "TransitLike"]

# Transit binds a wrapped data key to a context: a value key cannot be
# passed off as the blind-index key or the other way round.
VALUE_KEY_CONTEXT = b"strongroom.sqlalchemy.value-key.v1"
BLIND_KEY_CONTEXT = b"strongroom.sqlalchemy.blind-index-key.v1"


class _TransitArea(Protocol):
    def datakey(self, key: str, *, bits: int = 256, context: bytes | None = None) -> DataKey: ...

    def unwrap_datakey(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes: ...


class TransitLike(Protocol):
    """What the keys need of a client: its ``transit`` area (a
    :class:`strongroom.Client` is one)."""

    @property
    def transit(self) -> _TransitArea: ...


@dataclass
class _Cached:
    """An unwrapped key, as a cipher object (the raw bytes are not kept)."""

    cipher: AESGCM = field(repr=False)
    born: float
    uses: int = 0


@dataclass
class _BlindRoot:
    root: bytes = field(repr=False)
    born: float
    uses: int = 0


@dataclass
class _Current:
    wrapped: str
    cipher: AESGCM = field(repr=False)
    born: float
    uses: int = 0


class ColumnKeys:
    """The data keys of encrypted columns, wrapped under the transit key
    ``transit_key``.

    ``max_age`` (seconds) and ``max_uses`` bound how long and how often one
    unwrapped data key is used to encrypt, and how long and how often an
    unwrapped key read back from the database is reused to decrypt, before
    it is dropped and transit asked again; ``max_cached`` bounds how many
    unwrapped keys are held for reading (least recently used go first).
    ``blind_index_key`` is a wrapped key made once by
    :meth:`new_blind_index_key` and kept in the application's configuration;
    without it, blind indexes are refused.
    """

    def __init__(
        self,
        client: TransitLike,
        transit_key: str,
        *,
        max_age: float = 300.0,
        max_uses: int = 100_000,
        max_cached: int = 1024,
        blind_index_key: str | None = None,
    ) -> None:
        if max_age <= 0 or max_uses <= 0 or max_cached <= 0:
            raise ValueError("max_age, max_uses and max_cached must be positive")
        # AES-GCM with random 96-bit nonces stays within NIST's bound (2^32
        # messages per key) by a wide margin at any max_uses below this.
        if max_uses > 1 << 30:
            raise ValueError("max_uses must stay below 2**30 values per data key (random GCM nonces)")
        self._transit = client.transit
        self.transit_key = transit_key
        self.max_age = max_age
        self.max_uses = max_uses
        self.max_cached = max_cached
        self._blind_wrapped = blind_index_key
        self._lock = threading.Lock()
        self._current: _Current | None = None
        self._read: OrderedDict[str, _Cached] = OrderedDict()
        self._blind: _BlindRoot | None = None
        self._clock = time.monotonic
        self.datakeys_requested = 0
        self.datakeys_unwrapped = 0

    def __repr__(self) -> str:
        return f"ColumnKeys(transit_key={self.transit_key!r}, max_age={self.max_age}, max_uses={self.max_uses})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("ColumnKeys holds unwrapped keys and cannot be pickled")

    def new_blind_index_key(self) -> str:
        """A fresh blind-index key, wrapped under the transit key: store the
        returned string in the application's configuration and pass it as
        ``blind_index_key``. Changing it changes every index value."""
        return self._transit.datakey(self.transit_key, context=BLIND_KEY_CONTEXT).ciphertext

    def for_encrypting(self) -> tuple[str, AESGCM]:
        """The wrapped data key to store with a new value and its cipher;
        counts one use and replaces the key once it is spent or too old."""
        with self._lock:
            now = self._clock()
            current = self._current
            if current is None or current.uses >= self.max_uses or now - current.born >= self.max_age:
                fresh = self._transit.datakey(self.transit_key, context=VALUE_KEY_CONTEXT)
                self.datakeys_requested += 1
                current = _Current(fresh.ciphertext, AESGCM(fresh.plaintext), now)
                del fresh
                self._current = current
            current.uses += 1
            return current.wrapped, current.cipher

    def for_decrypting(self, wrapped: str) -> AESGCM:
        """The cipher of a stored value's data key, unwrapped by transit the
        first time and reused within the same bounds as for encrypting."""
        with self._lock:
            now = self._clock()
            cached = self._read.get(wrapped)
            if cached is not None and (cached.uses >= self.max_uses or now - cached.born >= self.max_age):
                del self._read[wrapped]
                cached = None
            if cached is None:
                current = self._current
                if current is not None and current.wrapped == wrapped:
                    cached = _Cached(current.cipher, current.born)
                else:
                    plaintext = self._transit.unwrap_datakey(self.transit_key, wrapped, context=VALUE_KEY_CONTEXT)
                    self.datakeys_unwrapped += 1
                    cached = _Cached(AESGCM(plaintext), now)
                    del plaintext
                self._read[wrapped] = cached
                while len(self._read) > self.max_cached:
                    self._read.popitem(last=False)
            else:
                self._read.move_to_end(wrapped)
            cached.uses += 1
            return cached.cipher

    def blind_index(self, label: bytes, normalised: bytes) -> str:
        """HMAC-SHA256 (hex) of ``normalised`` under a sub-key of the
        blind-index key for ``label`` (table and column), so equal values in
        two columns do not have equal index values."""
        root = self._blind_root()
        column_key = hmac.new(root, b"strongroom.sqlalchemy.blind-index.v1\x00" + label, hashlib.sha256).digest()
        return hmac.new(column_key, normalised, hashlib.sha256).hexdigest()

    def _blind_root(self) -> bytes:
        if self._blind_wrapped is None:
            raise RuntimeError(
                "this column has a blind index but ColumnKeys has no blind_index_key: make one with "
                "ColumnKeys.new_blind_index_key() and pass it as blind_index_key="
            )
        with self._lock:
            now = self._clock()
            cached = self._blind
            if cached is None or cached.uses >= self.max_uses or now - cached.born >= self.max_age:
                root = self._transit.unwrap_datakey(self.transit_key, self._blind_wrapped, context=BLIND_KEY_CONTEXT)
                cached = _BlindRoot(root, now)
                self._blind = cached
            cached.uses += 1
            return cached.root

    def forget(self) -> None:
        """Drops every unwrapped key now (e.g. after a transit key rotation
        or before a long idle period)."""
        with self._lock:
            self._current = None
            self._read.clear()
            self._blind = None
