"""Encrypting an existing plaintext column in place, resumably.

The table is walked in primary-key order, one batch per transaction. Each
transaction encrypts its batch *and* moves the cursor in a progress table
(``strongroom_column_migrations``), so a batch is either done and recorded
or neither: a migration killed at any instant (even SIGKILL) and started
again carries on after the last committed batch, and no row is lost or
encrypted twice. Values already in the encrypted form are skipped as well
(the application may write encrypted values while the migration runs, into
rows ahead of the cursor), and each UPDATE only applies if the row still
holds the plaintext that was read, so a concurrent write is never
overwritten with an older value.

A run that finds the previous one finished starts a new pass from the
beginning: it encrypts whatever was written in plaintext since (by an
application instance not yet upgraded) and otherwise only confirms.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    insert,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import LargeBinary

from ._envelope import PENDING_BINARY, PENDING_TEXT, bind, is_encrypted, seal_value
from ._keys import ColumnKeys
from ._types import default_normalize

__all__ = ["MigrationReport", "migrate_column_to_encryption"]

PROGRESS_TABLE = "strongroom_column_migrations"


@dataclass(frozen=True)
class MigrationReport:
    """What a run did (or, with ``dry_run``, would do)."""

    table: str
    column: str
    scanned: int
    encrypted: int
    already_encrypted: int
    empty: int
    resumed: bool
    dry_run: bool


def _progress_table(metadata: MetaData) -> Table:
    return Table(
        PROGRESS_TABLE,
        metadata,
        Column("table_name", String(255), primary_key=True),
        Column("column_name", String(255), primary_key=True),
        Column("cursor", Text, nullable=True),
        Column("scanned", Integer, nullable=False, default=0),
        Column("encrypted", Integer, nullable=False, default=0),
        Column("already_encrypted", Integer, nullable=False, default=0),
        Column("empty", Integer, nullable=False, default=0),
        Column("finished", Boolean, nullable=False, default=False),
    )


class _Bar:
    """A one-line progress bar on ``stream`` (redrawn at most ten times a second)."""

    def __init__(self, stream: TextIO | None, label: str, total: int) -> None:
        self.stream, self.label, self.total, self.last = stream, label, max(total, 1), 0.0

    def show(self, done: int, encrypted: int, final: bool = False) -> None:
        if self.stream is None or (not final and time.monotonic() - self.last < 0.1):
            return
        self.last = time.monotonic()
        share = min(done / self.total, 1.0)
        filled = int(share * 30)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'-' * (30 - filled)}] {share:4.0%} {done}/{self.total} rows, "
            f"{encrypted} encrypted"
        )
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _cursor_values(table: Table, text: str | None) -> list[Any] | None:
    if text is None:
        return None
    values = json.loads(text)
    out = []
    for column, value in zip(table.primary_key.columns, values, strict=True):
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = object
        out.append(uuid.UUID(value) if python_type is uuid.UUID else value)
    return out


def _cursor_text(values: Sequence[Any]) -> str:
    return json.dumps([v if isinstance(v, (int, str)) else str(v) for v in values])


def migrate_column_to_encryption(
    engine: Engine,
    table: str,
    column: str,
    keys: ColumnKeys,
    *,
    blind_index: str | None = None,
    normalize: Callable[[Any], bytes] = default_normalize,
    batch_size: int = 500,
    dry_run: bool = False,
    pause: float = 0.0,
    progress: TextIO | None = sys.stderr,
    schema: str | None = None,
) -> MigrationReport:
    """Encrypts ``table.column`` in place, as :class:`Encrypted` reads it.

    Text columns get the ``srenc:`` text form, binary columns the binary
    form; ``blind_index`` names a companion column to fill with the
    :class:`BlindIndex` of each value (``normalize`` as in the model).
    ``dry_run`` reads and counts only (it creates nothing and writes
    nothing); ``pause`` sleeps between batches to leave room for the
    application on a busy database; ``progress`` is where the bar goes
    (``None`` for none). Safe to kill and run again, see the module.
    """
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    metadata = MetaData(schema=schema)
    target = Table(table, metadata, autoload_with=engine)
    if column not in target.columns:
        raise ValueError(f"{table} has no column {column!r}")
    if not target.primary_key.columns:
        raise ValueError(f"{table} has no primary key to walk and bind values to")
    value_column = target.columns[column]
    if isinstance(value_column.type, JSON):
        raise ValueError(
            f"{table}.{column} is a JSON column, which cannot hold the encrypted form: "
            "ALTER it to text first (Encrypted(JSON) stores text)"
        )
    index_column = target.columns[blind_index] if blind_index is not None else None
    binary = isinstance(value_column.type, LargeBinary)
    length = getattr(value_column.type, "length", None)
    keys_columns = list(target.primary_key.columns)
    progress_table = _progress_table(MetaData(schema=schema))
    has_progress = inspect(engine).has_table(PROGRESS_TABLE, schema=schema)
    if not dry_run and not has_progress:
        progress_table.create(engine, checkfirst=True)
        has_progress = True

    with engine.begin() as connection:
        state = _read_state(connection, progress_table, table, column) if has_progress else None
        resumed = state is not None and not state["finished"] and state["cursor"] is not None
        if state is None or state["finished"]:
            counts = {"scanned": 0, "encrypted": 0, "already_encrypted": 0, "empty": 0}
            cursor: list[Any] | None = None
            if not dry_run:
                _write_state(connection, progress_table, table, column, None, counts, False, exists=state is not None)
        else:
            counts = {k: int(state[k]) for k in ("scanned", "encrypted", "already_encrypted", "empty")}
            cursor = _cursor_values(target, state["cursor"])
        total = counts["scanned"] + int(connection.execute(select(func.count()).select_from(target)).scalar_one())
        total -= _count_before(connection, target, keys_columns, cursor)

    label = f"{'checking' if dry_run else 'encrypting'} {table}.{column}"
    bar = _Bar(progress, label, total)
    bar.show(counts["scanned"], counts["encrypted"], final=False)
    # Guarded update: only if the row still holds what was read.
    guard = and_(*(c == bindparam(f"_k{i}") for i, c in enumerate(keys_columns)), value_column == bindparam("_old"))
    values: dict[str, Any] = {column: bindparam("_new")}
    if index_column is not None:
        values[index_column.name] = bindparam("_index")
    statement = update(target).where(guard).values(values)

    while True:
        with engine.begin() as connection:
            if not dry_run:
                locked = _read_state(connection, progress_table, table, column, lock=True)
                assert locked is not None
                cursor = _cursor_values(target, locked["cursor"])
            query = select(*keys_columns, value_column).order_by(*keys_columns).limit(batch_size)
            if cursor is not None:
                query = query.where(tuple_(*keys_columns) > tuple_(*cursor))
            rows = connection.execute(query).all()
            if not rows:
                break
            changes = []
            for row in rows:
                primary_key, value = list(row[:-1]), row[-1]
                counts["scanned"] += 1
                if value is None:
                    counts["empty"] += 1
                    continue
                if is_encrypted(value) or value in (PENDING_TEXT, PENDING_BINARY):
                    # (A marker is only ever seen by the transaction that
                    # wrote it; skipped all the same rather than sealed.)
                    counts["already_encrypted"] += 1
                    continue
                plaintext = value.encode("utf-8") if isinstance(value, str) else bytes(value)
                envelope = seal_value(keys, plaintext, bind(table, column, primary_key))
                stored: bytes | str = envelope.to_bytes() if binary else envelope.to_text()
                if length is not None and len(stored) > length:
                    raise ValueError(
                        f"{table}.{column} is {length} long but an encrypted value of row {tuple(primary_key)!r} "
                        f"needs {len(stored)}: widen the column first"
                    )
                change = {f"_k{i}": v for i, v in enumerate(primary_key)}
                change.update(_old=value, _new=stored)
                if index_column is not None:
                    change["_index"] = keys.blind_index(f"{table}\x00{column}".encode(), normalize(value))
                changes.append(change)
                counts["encrypted"] += 1
            cursor = list(rows[-1][:-1])
            if not dry_run:
                if changes:
                    connection.execute(statement, changes)
                _write_state(
                    connection, progress_table, table, column, _cursor_text(cursor), counts, False, exists=True
                )
        bar.show(counts["scanned"], counts["encrypted"])
        if pause:
            time.sleep(pause)

    if not dry_run:
        with engine.begin() as connection:
            _write_state(connection, progress_table, table, column, None, counts, True, exists=True)
    bar.show(counts["scanned"], counts["encrypted"], final=True)
    return MigrationReport(table, column, resumed=resumed, dry_run=dry_run, **counts)


def _count_before(connection: Connection, target: Table, keys_columns: list[Any], cursor: list[Any] | None) -> int:
    if cursor is None:
        return 0
    query = select(func.count()).select_from(target).where(tuple_(*keys_columns) <= tuple_(*cursor))
    return int(connection.execute(query).scalar_one())


def _read_state(
    connection: Connection, progress: Table, table: str, column: str, *, lock: bool = False
) -> dict[str, Any] | None:
    query = select(progress).where(progress.c.table_name == table, progress.c.column_name == column)
    if lock:
        # PostgreSQL: a second migration of the same column waits here
        # instead of encrypting the same batch (SQLite serialises writers).
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _write_state(
    connection: Connection,
    progress: Table,
    table: str,
    column: str,
    cursor: str | None,
    counts: dict[str, int],
    finished: bool,
    *,
    exists: bool,
) -> None:
    values = {"cursor": cursor, "finished": finished, **counts}
    if exists:
        connection.execute(
            update(progress).where(progress.c.table_name == table, progress.c.column_name == column).values(values)
        )
    else:
        connection.execute(insert(progress).values(table_name=table, column_name=column, **values))
