"""Encrypted columns for SQLAlchemy (``pip install "strongroom[sqlalchemy]"``).

    from strongroom import Client
    from strongroom.sqlalchemy import BlindIndex, ColumnKeys, Encrypted, blind

    keys = ColumnKeys(Client(url, api_key=key), "app-columns", blind_index_key=settings.BLIND_INDEX_KEY)

    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(Encrypted(String, keys))
        email_index: Mapped[str | None] = mapped_column(BlindIndex("email", keys), index=True)
        notes: Mapped[dict[str, Any]] = mapped_column(Encrypted(JSON, keys))

    session.scalars(select(Person).where(Person.email_index == blind(Person.email_index, "Ada@Example.com")))

Design, and why:

- **Envelope encryption.** Values are sealed locally with AES-256-GCM under
  a data key from transit (``transit/datakey``); the key is stored wrapped
  inside each value (format in ``_envelope``: a version byte, the wrapped
  key, a 96-bit random nonce, the ciphertext and tag). The transit key never
  leaves the server; an unwrapped data key never leaves this process's
  memory. One key encrypts at most ``max_uses`` values for at most
  ``max_age`` seconds (``ColumnKeys``), and keys unwrapped for reading are
  cached under the same bounds (and a count, least recently used evicted).
- **Bound to table, column and primary key.** The associated data of a value
  names its place, so a value copied to another row or column fails with
  :class:`ColumnDecryptionError` instead of reading as that row's data. A
  type decorator alone never sees the row, so sealing and opening happen in
  the mapper's flush and load events (``_orm``): the mapped attribute holds
  plaintext, the database ciphertext. Anything that bypasses the ORM — a
  Core insert, a bulk update, ``where(Person.email == ...)`` — raises
  :class:`PlaintextRefused` rather than write or compare plaintext.
- **Keys the database assigns.** An autoincrement key is unknown before the
  INSERT: the INSERT writes a marker and the same flush (same transaction)
  updates the row with the sealed value right after; a key with a Python
  default (``default=uuid4``) is filled before the INSERT, which then needs
  no second statement. The plaintext is never written in either case.
- **Blind index.** :class:`BlindIndex` stores HMAC-SHA256 of the normalised
  value (NFKC, trimmed, case-folded) under a per-column sub-key of a key
  made once by transit and kept *wrapped* in the application's settings
  (``ColumnKeys.new_blind_index_key()``), unwrapped into memory under the
  same bounds as data keys. Local HMACs keep writes and lookups free of a
  round trip per value; the price is that rotating it means re-indexing.
- **Migration.** :func:`migrate_column_to_encryption` encrypts an existing
  plaintext column in place in primary-key batches, each committed together
  with its progress row, so it can be killed at any point and rerun; it
  skips values already in the encrypted form and has a dry run.

Use the synchronous :class:`strongroom.Client` (SQLAlchemy's events are
synchronous). Values keep their type: ``String`` → ``str``,
``LargeBinary`` → ``bytes``, ``JSON`` → what ``json`` makes.
"""

from . import _orm  # noqa: F401  - registers the mapper listener
from ._envelope import ColumnDecryptionError, is_encrypted
from ._keys import ColumnKeys
from ._migrate import MigrationReport, migrate_column_to_encryption
from ._orm import blind
from ._types import BlindIndex, Ciphertext, Encrypted, PlaintextRefused, default_normalize

__all__ = [
    "BlindIndex",
    "Ciphertext",
    "ColumnDecryptionError",
    "ColumnKeys",
    "Encrypted",
    "MigrationReport",
    "PlaintextRefused",
    "blind",
    "default_normalize",
    "is_encrypted",
    "migrate_column_to_encryption",
]
