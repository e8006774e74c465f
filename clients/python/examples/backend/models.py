"""The backend's existing ``customers`` table, its ``email`` now encrypted.

The table is the one the app always had (``id``, ``name``, ``email`` as
text); ``migrate.py`` encrypts the column in place and adds ``email_index``.
Reads and writes through the ORM see plaintext, the database only ciphertext
bound to its row; equality lookups go through the blind index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from strongroom.sqlalchemy import BlindIndex, ColumnKeys, Encrypted


def customer_model(keys: ColumnKeys, *, accept_plaintext: bool = False) -> type[Any]:
    """The mapped class, bound to ``keys``. ``accept_plaintext=True`` only
    while the migration runs: rows not yet encrypted are read as they are."""

    class Base(DeclarativeBase):
        pass

    class Customer(Base):
        __tablename__ = "customers"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        email: Mapped[str] = mapped_column(Encrypted(String, keys, accept_plaintext=accept_plaintext))
        email_index: Mapped[str | None] = mapped_column(BlindIndex("email", keys), index=True)

    return Customer
