"""The column types: :class:`Encrypted` (ciphertext in the database,
plaintext on the mapped object) and :class:`BlindIndex` (an HMAC of the
normalised plaintext, for equality search).

The types only move already-sealed values between Python and the database;
sealing needs the row's primary key, which a type never sees, so it happens
in the mapper's flush and load events (``_orm``). What reaches a type
directly — a Core ``insert``, a bulk ``update``, a ``where(email == …)`` —
is refused rather than stored or compared in plaintext.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from ._envelope import PENDING_BINARY, PENDING_TEXT
from ._keys import ColumnKeys

__all__ = ["BlindIndex", "Ciphertext", "Encrypted", "PlaintextRefused", "default_normalize"]


class PlaintextRefused(TypeError):
    """A plain value reached an encrypted or blind-index column outside the
    ORM's flush (which is the only place that knows the row to bind it to)."""


@dataclass(frozen=True)
class Ciphertext:
    """A stored value as read by a query that bypassed the mapped object
    (``select(User.email)``): opaque until decrypted for its row."""

    stored: bytes | str = field(repr=False)

    def __repr__(self) -> str:
        return f"<Ciphertext {len(self.stored)} {'chars' if isinstance(self.stored, str) else 'bytes'}>"


@dataclass(frozen=True)
class Sealed:
    """A value sealed for its row during a flush; keeps the plaintext (never
    shown) so a flush that is rolled back and retried can seal it again."""

    stored: bytes | str = field(repr=False)
    plaintext: Any = field(repr=False)


@dataclass(frozen=True)
class Pending:
    """A value whose row's key the database has not assigned yet: the
    INSERT writes a marker and the same flush overwrites it with the sealed
    value once the key is known."""

    plaintext: Any = field(repr=False)


class _Codec:
    """How a column's Python values become the bytes that are encrypted."""

    def __init__(self, name: str, encode: Callable[[Any], bytes], decode: Callable[[bytes], Any]) -> None:
        self.name, self.encode, self.decode = name, encode, decode


_STRING = _Codec("string", lambda v: str(v).encode("utf-8"), lambda b: b.decode("utf-8"))
_BINARY = _Codec("binary", bytes, bytes)
_JSON = _Codec(
    "json",
    lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
    lambda b: json.loads(b.decode("utf-8")),
)


def _codec_of(kind: type[TypeEngine[Any]] | TypeEngine[Any]) -> _Codec:
    instance = kind() if isinstance(kind, type) else kind
    if isinstance(instance, JSON):
        return _JSON
    if isinstance(instance, LargeBinary):
        return _BINARY
    if isinstance(instance, String):
        return _STRING
    raise TypeError(f"Encrypted() takes String, LargeBinary or JSON, not {type(instance).__name__}")


class Encrypted(TypeDecorator[Any]):
    """A column whose values are encrypted with data keys from ``keys``.

    ``kind`` is what the application stores (``String``, ``LargeBinary``,
    ``JSON``); the database column is text for ``String``/``JSON`` (``srenc:…``,
    so an existing text column can be migrated in place) and binary for
    ``LargeBinary``; ``binary=True`` stores a ``String``/``JSON`` value as
    bytes, ``length`` sizes the text column (the stored form is longer than
    the value: its bytes + 139 as binary, 4/3 × that + 6 characters as text).
    ``accept_plaintext=True`` is for the window of an in-place migration
    only: a value not yet in the encrypted form is read as it is (and
    sealed at its next write) instead of raising; it also lets anyone who
    can write to the table plant a value, so turn it off once the migration
    has finished.
    """

    impl: TypeEngine[Any] | type[TypeEngine[Any]] = Text
    cache_ok = True

    def __init__(
        self,
        kind: type[TypeEngine[Any]] | TypeEngine[Any],
        keys: ColumnKeys,
        *,
        binary: bool | None = None,
        length: int | None = None,
        accept_plaintext: bool = False,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.keys = keys
        self.codec = _codec_of(kind)
        self.binary = self.codec is _BINARY if binary is None else binary
        self.length = length
        self.accept_plaintext = accept_plaintext
        self.impl = LargeBinary() if self.binary else Text() if length is None else String(length)

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | str | None:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value.stored
        if isinstance(value, Pending):
            return PENDING_BINARY if self.binary else PENDING_TEXT
        raise PlaintextRefused(
            "a plain value reached an Encrypted column outside a mapped object's flush, where no row binds it: "
            "set it on a mapped object (session.add), and search with a BlindIndex column instead of comparing"
        )

    def process_result_value(self, value: Any, dialect: Dialect) -> Ciphertext | None:
        if value is None:
            return None
        return Ciphertext(bytes(value) if isinstance(value, memoryview) else value)

    def compare_values(self, x: Any, y: Any) -> bool:
        return x is y or (type(x) is type(y) and bool(x == y))

    @property
    def python_type(self) -> type[Any]:
        return {"string": str, "binary": bytes}.get(self.codec.name, object)


_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


def default_normalize(value: str | bytes) -> bytes:
    """Unicode NFKC, surrounding whitespace removed, case folded: the forms
    a person would call the same e-mail address or name compare equal."""
    if isinstance(value, bytes):
        return value
    return unicodedata.normalize("NFKC", value).strip().casefold().encode("utf-8")


class BlindIndex(TypeDecorator[str]):
    """The companion of an :class:`Encrypted` attribute named ``source`` on
    the same class: HMAC-SHA256 (hex) of its normalised plaintext, filled in
    at flush, so ``where(User.email_index == blind(User.email_index, "a@b"))``
    finds a row without decrypting any. It reveals which rows share a value
    (that is what makes it searchable): add one only where equality search
    is needed."""

    impl = String(64)
    cache_ok = True

    def __init__(
        self,
        source: str,
        keys: ColumnKeys,
        *,
        normalize: Callable[[Any], bytes] = default_normalize,
    ) -> None:
        super().__init__()
        self.source = source
        self.keys = keys
        self.normalize = normalize

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and _HEX64.match(value):
            return value
        raise PlaintextRefused("a BlindIndex column compares with blind(Model.column, value), not the value itself")
