"""Encrypted-column writes and reads per second, in process: strongroom.sqlalchemy
(AES-256-GCM under cached transit data keys) against the guides' way (Fernet
under a key derived per call with PBKDF2-HMAC-SHA256, 100,000 iterations), in
the same run, the same database and the same ORM model shape, with a plaintext
column as the floor.

    STRONGROOM_BIN=path/to/strongroom python clients/python/bench/encrypted_columns.py
    python clients/python/bench/encrypted_columns.py --database postgresql+psycopg://postgres@127.0.0.1/bench

With ``STRONGROOM_URL`` and ``STRONGROOM_API_KEY`` (scopes transit:manage,
transit:use) it uses that server instead of starting one. Each write is one
ORM INSERT of a row with one 64-byte value (committed every ``--commit-every``
rows); each read loads rows in a fresh session with a cold data-key cache.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from sqlalchemy import Engine, Integer, String, Text, Uuid, create_engine, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from strongroom import Client
from strongroom.sqlalchemy import ColumnKeys, Encrypted
from strongroom.sqlalchemy._envelope import bind, open_value, seal_value
from strongroom.testing import LocalServer

VALUE = "x" * 48 + "@example.test!!"  # 64 bytes, an e-mail address or a name


class GuidesFernet(TypeDecorator[str]):
    """The guides' column encryption: a fresh salt and a PBKDF2-derived
    Fernet key for every value, the same derivation again to read it."""

    impl = Text
    cache_ok = True

    def __init__(self, password: bytes) -> None:
        super().__init__()
        self.password = password

    def _fernet(self, salt: bytes) -> Fernet:
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=100_000)
        return Fernet(base64.urlsafe_b64encode(kdf.derive(self.password)))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        salt = os.urandom(16)
        token = self._fernet(salt).encrypt(str(value).encode())
        return base64.b64encode(salt).decode() + ":" + token.decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        salt, token = str(value).split(":", 1)
        return self._fernet(base64.b64decode(salt)).decrypt(token.encode()).decode()


def model(name: str, column_type: Any, uuid_key: bool) -> type[Any]:
    class Base(DeclarativeBase):
        pass

    key = (
        {"id": mapped_column(Uuid, primary_key=True, default=uuid.uuid4)}
        if uuid_key
        else {"id": mapped_column(Integer, primary_key=True)}
    )
    return type(
        name, (Base,), {"__tablename__": name.lower(), "value": mapped_column(column_type, nullable=False), **key}
    )


def writes_per_second(engine: Engine, cls: type[Any], rows: int, commit_every: int) -> float:
    cls.metadata.create_all(engine)
    started = time.perf_counter()
    with Session(engine) as session:
        for i in range(rows):
            session.add(cls(value=VALUE))
            if (i + 1) % commit_every == 0:
                session.commit()
        session.commit()
    return rows / (time.perf_counter() - started)


def reads_per_second(engine: Engine, cls: type[Any], rows: int) -> float:
    started = time.perf_counter()
    with Session(engine) as session:
        values = [row.value for row in session.scalars(select(cls).limit(rows))]
    elapsed = time.perf_counter() - started
    assert len(values) == rows and all(v == VALUE for v in values)
    return rows / elapsed


def crypto_per_second(seal: Callable[[], Any], open_: Callable[[Any], Any], count: int) -> tuple[float, float]:
    """Values sealed and opened per second with no database at all."""
    started = time.perf_counter()
    stored = [seal() for _ in range(count)]
    sealed = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for value in stored:
        open_(value)
    return sealed, count / (time.perf_counter() - started)


@contextmanager
def strongroom() -> Iterator[Client]:
    if os.environ.get("STRONGROOM_URL"):
        with Client(os.environ["STRONGROOM_URL"], api_key=os.environ["STRONGROOM_API_KEY"]) as client:
            yield client
        return
    with LocalServer() as server, Client(server.url, api_key=server.api_key("transit:manage", "transit:use")) as client:
        yield client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows for strongroom and plaintext")
    parser.add_argument("--guide-rows", type=int, default=200, help="rows for the guides' way (slow)")
    parser.add_argument("--commit-every", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many rounds")
    args = parser.parse_args()

    with strongroom() as client, tempfile.TemporaryDirectory() as scratch:
        key = f"bench-{os.getpid()}"
        client.transit.create_key(key)
        results: dict[str, list[tuple[float, float]]] = {}
        for round_ in range(args.rounds):
            url = args.database or f"sqlite:///{scratch}/bench-{round_}.db"
            engine = create_engine(url)
            contenders: list[tuple[str, Callable[[], Any], bool, int]] = [
                ("plaintext", lambda: String(), False, args.rows),
                ("strongroom", lambda: Encrypted(String, ColumnKeys(client, key)), False, args.rows),
                ("strongroom-uuid", lambda: Encrypted(String, ColumnKeys(client, key)), True, args.rows),
                ("guides", lambda: GuidesFernet(b"the application's master password"), False, args.guide_rows),
            ]
            for name, column_type, uuid_key, rows in contenders:
                table = f"bench_{name.replace('-', '_')}_{round_}"
                writer = model(table, column_type(), uuid_key)
                written = writes_per_second(engine, writer, rows, args.commit_every)
                reader = model(table, column_type(), uuid_key)  # a fresh data-key cache for strongroom
                read = reads_per_second(engine, reader, rows)
                results.setdefault(name, []).append((written, read))
                writer.metadata.drop_all(engine)
            engine.dispose()

        column_keys = ColumnKeys(client, key)
        associated = bind("people", "email", [1])
        ours_alone = crypto_per_second(
            lambda: seal_value(column_keys, VALUE.encode(), associated).to_text(),
            lambda stored: open_value(column_keys, stored, associated, "bench"),
            args.rows,
        )
        guide = GuidesFernet(b"the application's master password")
        theirs_alone = crypto_per_second(
            lambda: guide.process_bind_param(VALUE, engine.dialect),
            lambda stored: guide.process_result_value(stored, engine.dialect),
            args.guide_rows,
        )

    print(f"crypto alone (no database): strongroom seals {ours_alone[0]:,.0f}/s, opens {ours_alone[1]:,.0f}/s;")
    print(f"  guides' Fernet+PBKDF2 encrypts {theirs_alone[0]:,.0f}/s, decrypts {theirs_alone[1]:,.0f}/s")
    print(f"database: {args.database or 'SQLite file'}; {args.rounds} rounds, medians; one 64-byte value per row")
    print(f"{'column':<16} {'rows':>7} {'writes/s':>10} {'reads/s':>10}")
    medians = {}
    for name, runs in results.items():
        rows = args.guide_rows if name == "guides" else args.rows
        medians[name] = (statistics.median(w for w, _ in runs), statistics.median(r for _, r in runs))
        print(f"{name:<16} {rows:>7} {medians[name][0]:>10,.0f} {medians[name][1]:>10,.0f}")
    ours, theirs = medians["strongroom"], medians["guides"]  # the autoincrement one, the slower of ours
    print(f"strongroom / guides: writes {ours[0] / theirs[0]:,.0f}x, reads {ours[1] / theirs[1]:,.0f}x")


if __name__ == "__main__":
    main()
