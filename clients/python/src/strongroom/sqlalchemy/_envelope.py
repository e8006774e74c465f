"""The stored form of an encrypted value and what it is bound to.

Binary form (``LargeBinary`` columns), version 1::

    b"SRC" | 0x01 | len(wrapped key) as u16 BE | wrapped key (ASCII "vault:vN:…")
          | 12-byte random nonce | AES-256-GCM ciphertext and 16-byte tag

Text form (``String``/``JSON`` columns): ``"srenc:"`` followed by the binary
form in base64, so an existing text column can hold it in place.

Each value carries its own wrapped data key, so a value is readable on its
own (no key table to keep in step, no join) and a migration can tell an
encrypted value from a plaintext one by its form. The associated data is the
header plus the table, the column and the row's primary key: a value copied
into another row or column, or edited, fails authentication instead of
decrypting to something plausible.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from ..errors import StrongroomError
from ._keys import ColumnKeys

__all__ = ["ColumnDecryptionError", "Envelope", "bind", "is_encrypted", "open_value", "seal_value"]

MAGIC = b"SRC"
VERSION = 1
HEADER = MAGIC + bytes([VERSION])
TEXT_PREFIX = "srenc:"
# Written by an INSERT whose primary key the database assigns, and replaced
# with the real value in the same flush once the key is known.
PENDING_BINARY = MAGIC + b"\x00"
PENDING_TEXT = TEXT_PREFIX + "pending"
NONCE_BYTES = 12
TAG_BYTES = 16


class ColumnDecryptionError(StrongroomError):
    """A stored value did not decrypt for the row and column it was read
    from: it was altered, copied from another row or column, or is not a
    value this package wrote. The message names the place, never the data."""


@dataclass(frozen=True)
class Envelope:
    wrapped_key: str
    nonce: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        wrapped = self.wrapped_key.encode("ascii")
        return HEADER + struct.pack(">H", len(wrapped)) + wrapped + self.nonce + self.ciphertext

    def to_text(self) -> str:
        return TEXT_PREFIX + base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def parse(cls, stored: bytes | str) -> Envelope | None:
        """The envelope in ``stored``, or ``None`` when it is not one (a
        plaintext value, or another version)."""
        if isinstance(stored, str):
            if not stored.startswith(TEXT_PREFIX):
                return None
            try:
                raw = base64.b64decode(stored[len(TEXT_PREFIX) :], validate=True)
            except (binascii.Error, ValueError):
                return None
        else:
            raw = bytes(stored)
        if not raw.startswith(HEADER) or len(raw) < len(HEADER) + 2:
            return None
        (length,) = struct.unpack(">H", raw[4:6])
        end = 6 + length
        if len(raw) < end + NONCE_BYTES + TAG_BYTES:
            return None
        try:
            wrapped = raw[6:end].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not wrapped.startswith("vault:v"):
            return None
        return cls(wrapped, raw[end : end + NONCE_BYTES], raw[end + NONCE_BYTES :])


def bind(table: str, column: str, primary_key: Sequence[object]) -> bytes:
    """The associated data of a value: its table, column and row."""
    return bind_row(bind_column(table, column), primary_key)


def bind_column(table: str, column: str) -> bytes:
    """The part of the associated data that is the same for a whole column."""
    return HEADER + _framed(table) + _framed(column)


def bind_row(column_part: bytes, primary_key: Sequence[object]) -> bytes:
    return column_part + b"".join(_framed(_key_text(value)) for value in primary_key)


def _framed(part: str) -> bytes:
    encoded = part.encode("utf-8")
    return struct.pack(">I", len(encoded)) + encoded


def _key_text(value: object) -> str:
    # The same row must give the same text whether the driver hands back an
    # int, a UUID object or its string, so values are compared as text.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def seal_value(keys: ColumnKeys, plaintext: bytes, associated: bytes) -> Envelope:
    wrapped, cipher = keys.for_encrypting()
    nonce = os.urandom(NONCE_BYTES)
    return Envelope(wrapped, nonce, cipher.encrypt(nonce, plaintext, associated))


def open_value(keys: ColumnKeys, stored: bytes | str, associated: bytes, where: str | Callable[[], str]) -> bytes:
    """The plaintext of ``stored``; :class:`ColumnDecryptionError` naming
    ``where`` (computed only then) when it is not an envelope or was not
    made for this place."""
    envelope = Envelope.parse(stored)
    if envelope is None:
        if stored in (PENDING_BINARY, PENDING_TEXT):
            raise ColumnDecryptionError(f"{_place(where)} has no value yet (its INSERT did not finish)")
        raise ColumnDecryptionError(
            f"{_place(where)} does not hold an encrypted value (plaintext left by a migration?)"
        )
    cipher = keys.for_decrypting(envelope.wrapped_key)
    try:
        return cipher.decrypt(envelope.nonce, envelope.ciphertext, associated)
    except InvalidTag:
        raise ColumnDecryptionError(
            f"{_place(where)} did not decrypt: the value was altered or copied from another row or column"
        ) from None


def _place(where: str | Callable[[], str]) -> str:
    return where if isinstance(where, str) else where()


def is_encrypted(stored: bytes | str | None) -> bool:
    """Whether ``stored`` has the form of an encrypted value (the migration
    skips those, so a rerun never encrypts a value twice)."""
    return stored is not None and Envelope.parse(stored) is not None
