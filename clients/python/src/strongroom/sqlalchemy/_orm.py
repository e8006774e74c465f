"""Sealing and opening values at the one place that knows their row: the
mapper's flush and load events.

A mapped class with an :class:`Encrypted` column gets, when SQLAlchemy
configures its mapper, listeners that

- before an INSERT or UPDATE, replace each changed plaintext with its sealed
  form bound to (table, column, primary key), and fill the blind indexes;
- after it, put the plaintext back on the object, so the application never
  sees ciphertext;
- after a load or refresh (which includes reloading expired attributes),
  open the stored values for the loaded row.

A primary key the database assigns (autoincrement) is not known before the
INSERT: that INSERT writes a marker in place of the value, the value is
sealed as soon as the key is known, and at the end of the same flush (same
connection, same transaction) one UPDATE executed for all such rows writes
them; no commit can see a marker. A primary key with a
Python-side default (``default=uuid4``) is filled in before the INSERT, so
the value goes in with it and no second statement is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Column, Table, and_, bindparam, event, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, attributes, object_session
from sqlalchemy.orm.base import instance_state

from ._envelope import ColumnDecryptionError, bind_column, bind_row, is_encrypted, open_value, seal_value
from ._types import BlindIndex, Ciphertext, Encrypted, Pending, Sealed

__all__ = ["blind", "instrument"]

# Session.info: values sealed after their rows' INSERTs, written at the end of the flush.
_SEALED_AFTER_INSERT = "strongroom.sqlalchemy.sealed_after_insert"
# Keys of an object's attributes that were read in plaintext (accept_plaintext).
_READ_AS_PLAINTEXT = "strongroom.sqlalchemy.read_as_plaintext"


@dataclass(frozen=True)
class _Field:
    key: str
    column: Column[Any]
    type: Encrypted

    def where(self, primary_key: Sequence[object]) -> str:
        return f"{self.column.table.name}.{self.column.name} of row {tuple(primary_key)!r}"

    @cached_property
    def column_part(self) -> bytes:
        return bind_column(self.column.table.name, self.column.name)

    def associated(self, primary_key: Sequence[object]) -> bytes:
        return bind_row(self.column_part, primary_key)

    def seal(self, plaintext: Any, primary_key: Sequence[object]) -> Sealed:
        envelope = seal_value(self.type.keys, self.type.codec.encode(plaintext), self.associated(primary_key))
        return Sealed(envelope.to_bytes() if self.type.binary else envelope.to_text(), plaintext)

    def open(self, stored: bytes | str, primary_key: Sequence[object]) -> Any:
        if self.type.accept_plaintext and not is_encrypted(stored):
            # Migration window: a row the migration has not reached yet.
            return self.type.codec.decode(stored.encode("utf-8") if isinstance(stored, str) else stored)
        plaintext = open_value(self.type.keys, stored, self.associated(primary_key), lambda: self.where(primary_key))
        return self.type.codec.decode(plaintext)


@dataclass(frozen=True)
class _Index:
    key: str
    column: Column[Any]
    type: BlindIndex
    source: _Field

    def of(self, plaintext: Any) -> str | None:
        if plaintext is None:
            return None
        return blind_value(self.type, self.source.column, plaintext)


def blind_value(index: BlindIndex, source: Column[Any], plaintext: Any) -> str:
    label = f"{source.table.name}\x00{source.name}".encode()
    return index.keys.blind_index(label, index.normalize(plaintext))


def blind(column: Any, value: Any) -> str:
    """The blind-index value of ``value`` for a :class:`BlindIndex`
    attribute, to compare with: ``where(User.email_index == blind(User.email_index, "a@b.example"))``."""
    prop = getattr(column, "property", None)
    columns = getattr(prop, "columns", None)
    if not columns or not isinstance(columns[0].type, BlindIndex):
        raise TypeError("blind() takes a mapped BlindIndex attribute, e.g. blind(User.email_index, value)")
    index_type: BlindIndex = columns[0].type
    source_prop = prop.parent.get_property(index_type.source)  # type: ignore[union-attr]
    return blind_value(index_type, source_prop.columns[0], value)


def _plaintext(value: Any) -> Any:
    if isinstance(value, (Sealed, Pending)):
        return value.plaintext
    return value


class _Spec:
    def __init__(self, mapper: Mapper[Any], fields: list[_Field], indexes: list[_Index]) -> None:
        self.mapper = mapper
        self.fields = fields
        self.indexes = indexes
        self.key_names = [mapper.get_property_by_column(column).key for column in mapper.primary_key]

    def primary_key(self, target: object) -> list[object] | None:
        # Read from the instance's dict: this runs for every loaded row, and
        # mapper.primary_key_from_instance costs as much as the decryption.
        values = instance_state(target).dict
        key = [values.get(name) for name in self.key_names]
        return None if any(v is None for v in key) else key

    def fill_client_side_keys(self, target: object) -> None:
        """Evaluates Python-side defaults of primary-key columns now, so the
        key is known before the INSERT (SQLAlchemy would otherwise do it
        while executing, after this event)."""
        state = instance_state(target)
        for column in self.mapper.primary_key:
            prop = self.mapper.get_property_by_column(column)
            if state.dict.get(prop.key) is not None:
                continue
            default = column.default
            if default is None:
                continue
            if getattr(default, "is_callable", False):
                state.dict[prop.key] = default.arg(None)  # type: ignore[attr-defined]
            elif getattr(default, "is_scalar", False):
                state.dict[prop.key] = default.arg  # type: ignore[attr-defined]

    def before_save(self, target: object, inserting: bool) -> None:
        state = instance_state(target)
        if inserting:
            self.fill_client_side_keys(target)
        primary_key = self.primary_key(target)
        key_changed = not inserting and any(
            attributes.get_history(target, self.mapper.get_property_by_column(c).key).has_changes()
            for c in self.mapper.primary_key
        )
        plain = state.info.get(_READ_AS_PLAINTEXT, set())
        sealed_now = set()
        for spec in self.fields:
            if spec.key not in state.dict:
                if key_changed:
                    raise RuntimeError(
                        f"load {self.mapper.class_.__name__}.{spec.key} before changing the primary key: "
                        "its value is bound to the old key and must be sealed again"
                    )
                continue
            changed = inserting or key_changed or spec.key in state.committed_state or spec.key in plain
            value = state.dict[spec.key]
            if not changed or value is None:
                continue
            if isinstance(value, Ciphertext):
                raise RuntimeError(f"{spec.key} holds a value that was never opened; it cannot be sealed again")
            plaintext = _plaintext(value)
            state.dict[spec.key] = Pending(plaintext) if primary_key is None else spec.seal(plaintext, primary_key)
            sealed_now.add(spec.key)
            if not inserting:
                attributes.flag_modified(target, spec.key)
        for index in self.indexes:
            source = index.source.key
            if source not in state.dict or not (inserting or source in state.committed_state or source in sealed_now):
                continue
            state.dict[index.key] = index.of(_plaintext(state.dict[source]))
            if not inserting:
                attributes.flag_modified(target, index.key)

    def after_save(self, connection: Connection, target: object) -> None:
        state = instance_state(target)
        pending = [spec for spec in self.fields if isinstance(state.dict.get(spec.key), Pending)]
        if pending:
            primary_key = self.primary_key(target)
            if primary_key is None:
                raise RuntimeError(f"{self.mapper.class_.__name__} has no primary key after its INSERT")
            by_table: dict[Any, dict[str, Sealed]] = {}
            for spec in pending:
                by_table.setdefault(spec.column.table, {})[spec.column.name] = spec.seal(
                    _plaintext(state.dict[spec.key]), primary_key
                )
            session = object_session(target)
            for table, values in by_table.items():
                if session is None:
                    _write_sealed(connection, table, [(primary_key, values)])
                else:
                    session.info.setdefault(_SEALED_AFTER_INSERT, []).append((connection, table, primary_key, values))
        for spec in self.fields:
            value = state.dict.get(spec.key)
            if isinstance(value, (Sealed, Pending)):
                attributes.set_committed_value(target, spec.key, value.plaintext)  # type: ignore[no-untyped-call]
                state.info.get(_READ_AS_PLAINTEXT, set()).discard(spec.key)

    def opened(self, target: object, keys: Iterable[str] | None) -> None:
        state = instance_state(target)
        wanted = None if keys is None else set(keys)
        primary_key: list[object] | None = None
        for spec in self.fields:
            if wanted is not None and spec.key not in wanted:
                continue
            value = state.dict.get(spec.key)
            if not isinstance(value, Ciphertext):
                continue
            if primary_key is None:
                primary_key = self.primary_key(target)
                if primary_key is None:
                    raise ColumnDecryptionError(f"{spec.where([])}: the row's primary key was not loaded")
            if spec.type.accept_plaintext and not is_encrypted(value.stored):
                # Sealed at the object's next flush, whatever else changes.
                state.info.setdefault(_READ_AS_PLAINTEXT, set()).add(spec.key)
            attributes.set_committed_value(target, spec.key, spec.open(value.stored, primary_key))  # type: ignore[no-untyped-call]


def _spec_of(mapper: Mapper[Any]) -> _Spec | None:
    fields: dict[str, _Field] = {}
    blind_columns: list[tuple[str, Column[Any], BlindIndex]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if isinstance(column.type, Encrypted):
            fields[prop.key] = _Field(prop.key, column, column.type)  # type: ignore[arg-type]
        elif isinstance(column.type, BlindIndex):
            blind_columns.append((prop.key, column, column.type))  # type: ignore[arg-type]
    indexes = []
    for key, column, index_type in blind_columns:
        source = fields.get(index_type.source)
        if source is None:
            raise TypeError(
                f"BlindIndex {mapper.class_.__name__}.{key} names {index_type.source!r}, not an Encrypted attribute"
            )
        if source.type.codec.name == "json":
            raise TypeError(
                f"BlindIndex {mapper.class_.__name__}.{key}: blind indexes cover String and LargeBinary columns"
            )
        indexes.append(_Index(key, column, index_type, source))
    if not fields:
        return None
    return _Spec(mapper, list(fields.values()), indexes)


def instrument(mapper: Mapper[Any], cls: type) -> None:
    """Adds the listeners to a mapper with encrypted columns (called for
    every mapper as SQLAlchemy configures it)."""
    spec = _spec_of(mapper)
    if spec is None:
        return
    event.listen(mapper, "before_insert", lambda _m, _c, target: spec.before_save(target, True))
    event.listen(mapper, "before_update", lambda _m, _c, target: spec.before_save(target, False))
    event.listen(mapper, "after_insert", lambda _m, connection, target: spec.after_save(connection, target))
    event.listen(mapper, "after_update", lambda _m, connection, target: spec.after_save(connection, target))
    event.listen(mapper, "load", lambda target, _ctx: spec.opened(target, None))
    event.listen(mapper, "refresh", lambda target, _ctx, keys: spec.opened(target, keys))


def _write_sealed(connection: Connection, table: Table, rows: list[tuple[list[object], dict[str, Sealed]]]) -> None:
    """One UPDATE statement, executed for many rows, for the values sealed
    after their rows' INSERTs (far fewer round trips than one per row)."""
    names = sorted(rows[0][1])
    condition = and_(*(col == bindparam(f"_srk{i}", type_=col.type) for i, col in enumerate(table.primary_key.columns)))
    values = {name: bindparam(f"_srv{i}", type_=table.c[name].type) for i, name in enumerate(names)}
    parameters = [
        {**{f"_srk{i}": v for i, v in enumerate(key)}, **{f"_srv{i}": sealed[name] for i, name in enumerate(names)}}
        for key, sealed in rows
    ]
    connection.execute(update(table).where(condition).values(values), parameters)


def _forget_sealed(session: Session, *_: Any) -> None:
    # What a failed flush left behind belongs to rows that were rolled back.
    session.info.pop(_SEALED_AFTER_INSERT, None)


def _write_all_sealed(session: Session, _context: Any) -> None:
    pending = session.info.pop(_SEALED_AFTER_INSERT, None)
    if not pending:
        return
    groups: dict[
        tuple[int, Table, tuple[str, ...]], tuple[Connection, list[tuple[list[object], dict[str, Sealed]]]]
    ] = {}
    for connection, table, key, values in pending:
        group = groups.setdefault((id(connection), table, tuple(sorted(values))), (connection, []))
        group[1].append((key, values))
    for (_, table, _names), (connection, rows) in groups.items():
        _write_sealed(connection, table, rows)


event.listen(Mapper, "mapper_configured", instrument)
# Values sealed after an INSERT are written together at the end of the flush
# (still inside it and its transaction, before anything can commit).
event.listen(Session, "before_flush", _forget_sealed)
event.listen(Session, "after_flush", _write_all_sealed)
event.listen(Session, "after_rollback", _forget_sealed)
