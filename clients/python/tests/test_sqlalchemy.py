"""strongroom.sqlalchemy against a real server's transit and real databases
(a SQLite file, and PostgreSQL when it is reachable)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Engine, LargeBinary, String, create_engine, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from strongroom import Client
from strongroom.models import DataKey
from strongroom.sqlalchemy import (
    BlindIndex,
    Ciphertext,
    ColumnDecryptionError,
    ColumnKeys,
    Encrypted,
    PlaintextRefused,
    blind,
    is_encrypted,
    migrate_column_to_encryption,
)
from strongroom.sqlalchemy._envelope import Envelope, bind, open_value, seal_value
from strongroom.testing import LocalServer

POSTGRES_URL = os.environ.get("STRONGROOM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
TRANSIT_KEY = "columns"


@pytest.fixture(scope="module")
def strongroom() -> Iterator[tuple[LocalServer, str]]:
    with LocalServer() as server:
        api_key = server.api_key("transit:manage", "transit:use")
        with Client(server.url, api_key=api_key) as client:
            client.transit.create_key(TRANSIT_KEY)
        yield server, api_key


@pytest.fixture(scope="module")
def client(strongroom: tuple[LocalServer, str]) -> Iterator[Client]:
    server, api_key = strongroom
    with Client(server.url, api_key=api_key) as instance:
        yield instance


@pytest.fixture(scope="module")
def blind_key(client: Client) -> str:
    return ColumnKeys(client, TRANSIT_KEY).new_blind_index_key()


@pytest.fixture
def keys(client: Client, blind_key: str) -> ColumnKeys:
    return ColumnKeys(client, TRANSIT_KEY, blind_index_key=blind_key)


def _postgres_engine() -> Iterator[Engine]:
    sqlalchemy_url = POSTGRES_URL.replace("postgres://", "postgresql+psycopg://", 1)
    try:
        admin = create_engine(sqlalchemy_url, isolation_level="AUTOCOMMIT")
        admin.connect().close()
    except Exception as error:  # any failure to reach it means: not here
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error}")
    name = f"strongroom_pysqla_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(sqlalchemy_url.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        instance = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
        yield instance
        instance.dispose()
    else:
        yield from _postgres_engine()


def models(keys: ColumnKeys) -> tuple[type[Any], type[Any], type[Any]]:
    """A fresh declarative base: the columns are tied to this test's keys."""

    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(Encrypted(String, keys))
        email_index: Mapped[str | None] = mapped_column(BlindIndex("email", keys), index=True)
        name: Mapped[str | None] = mapped_column(Encrypted(String, keys))
        notes: Mapped[dict[str, Any] | None] = mapped_column(Encrypted(JSON, keys))
        photo: Mapped[bytes | None] = mapped_column(Encrypted(LargeBinary, keys))

    class Document(Base):
        __tablename__ = "documents"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
        body: Mapped[str] = mapped_column(Encrypted(String, keys))

    return Base, Person, Document


def test_encrypted_columns_round_trip(engine: Engine, keys: ColumnKeys) -> None:
    base, person, document = models(keys)
    base.metadata.create_all(engine)
    with Session(engine) as session:
        ada = person(email="ada@example.com", name="Ada", notes={"matter": "m-1", "tags": ["é", 2]}, photo=b"\x00\xff")
        bare = person(email="bob@example.com")
        memo = document(body="privileged memo")
        session.add_all([ada, bare, memo])
        session.commit()
        assert (ada.email, ada.notes, ada.photo) == (
            "ada@example.com",
            {"matter": "m-1", "tags": ["é", 2]},
            b"\x00\xff",
        )
        ada.name = "Ada Lovelace"
        session.commit()
        ids = (ada.id, bare.id, memo.id)

    with Session(engine) as session:
        loaded = session.get(person, ids[0])
        assert loaded is not None
        assert (loaded.email, loaded.name, loaded.notes, loaded.photo) == (
            "ada@example.com",
            "Ada Lovelace",
            {"matter": "m-1", "tags": ["é", 2]},
            b"\x00\xff",
        )
        other = session.get(person, ids[1])
        assert other is not None and (other.email, other.name, other.notes) == ("bob@example.com", None, None)
        loaded_memo = session.get(document, ids[2])
        assert loaded_memo is not None and loaded_memo.body == "privileged memo"
        # What the database holds is ciphertext; a column query gets it opaque.
        stored = session.execute(select(person.email).where(person.id == ids[0])).scalar_one()
        assert isinstance(stored, Ciphertext) and "ada" not in repr(stored)
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT email, name, notes, photo FROM people")).all()
    for row in raw:
        for value in row:
            assert value is None or is_encrypted(value if isinstance(value, str) else bytes(value))


class _RecordingTransit:
    """The real client's transit area, noting each data key it hands out in
    plaintext so the test can look for them in the database file."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.plaintext_keys: list[bytes] = []

    @property
    def transit(self) -> _RecordingTransit:
        return self

    def datakey(self, key: str, *, bits: int = 256, context: bytes | None = None) -> DataKey:
        made = self._client.transit.datakey(key, bits=bits, context=context)
        self.plaintext_keys.append(made.plaintext)
        return made

    def unwrap_datakey(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        return self._client.transit.unwrap_datakey(key, ciphertext, context=context)


def test_the_sqlite_file_holds_no_plaintext_and_no_unwrapped_key(
    tmp_path: Path, client: Client, blind_key: str
) -> None:
    recording = _RecordingTransit(client)
    keys = ColumnKeys(recording, TRANSIT_KEY, max_uses=20, blind_index_key=blind_key)
    path = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{path}")
    base, person, document = models(keys)
    base.metadata.create_all(engine)
    secrets = [f"witness-{i}@secret.example" for i in range(50)]
    with Session(engine) as session:
        for i, email in enumerate(secrets):
            session.add(person(email=email, name=f"Name{i}Plain", notes={"diagnosis": f"condition-{i}"}))
            session.add(document(body=f"privileged-body-{i}"))
        session.commit()
        first = session.scalars(select(person).order_by(person.id)).first()
        assert first is not None and first.email == secrets[0]
    engine.dispose()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("app.db")]
    data = b"".join(p.read_bytes() for p in files)
    assert len(data) > 10_000
    for needle in (b"secret.example", b"witness-", b"Plain", b"diagnosis", b"condition-", b"privileged-body"):
        assert needle not in data, needle
    assert len(recording.plaintext_keys) == 10  # 200 values, 20 per data key
    for key in recording.plaintext_keys:
        for form in (key, base64.b64encode(key), key.hex().encode()):
            assert form not in data


def test_a_value_moved_to_another_row_or_column_fails(engine: Engine, keys: ColumnKeys) -> None:
    base, person, _ = models(keys)
    base.metadata.create_all(engine)
    with Session(engine) as session:
        victim, attacker = person(email="victim@example.com", name="V"), person(email="attacker@example.com", name="A")
        session.add_all([victim, attacker])
        session.commit()
        victim_id, attacker_id = victim.id, attacker.id
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE people SET email = (SELECT email FROM people WHERE id = :v) WHERE id = :a"),
            {"v": victim_id, "a": attacker_id},
        )
        connection.execute(text("UPDATE people SET name = email WHERE id = :v"), {"v": victim_id})
    with Session(engine) as session, pytest.raises(ColumnDecryptionError) as moved:
        session.get(person, attacker_id)
    message = str(moved.value)
    assert f"people.email of row ({attacker_id},)" in message and "copied from another row" in message
    assert "victim" not in message
    with Session(engine) as session, pytest.raises(ColumnDecryptionError, match=r"people\.name of row"):
        session.get(person, victim_id)


def test_a_blind_index_finds_equal_values_without_decrypting(engine: Engine, keys: ColumnKeys) -> None:
    base, person, _ = models(keys)
    base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([person(email="Ada@Example.com"), person(email="bob@example.com")])
        session.commit()
        found = session.scalars(
            select(person).where(person.email_index == blind(person.email_index, " ada@EXAMPLE.com"))
        ).all()
        assert [p.email for p in found] == ["Ada@Example.com"]
        found[0].email = "ada@new.example"
        session.commit()
        assert (
            session.scalars(
                select(person).where(person.email_index == blind(person.email_index, "ada@example.com"))
            ).all()
            == []
        )
        moved = session.scalars(
            select(person).where(person.email_index == blind(person.email_index, "ADA@new.example"))
        ).one()
        assert moved.email == "ada@new.example"
        # Comparing with the value itself is refused, not silently empty.
        with pytest.raises(StatementError) as by_index:
            session.scalars(select(person).where(person.email_index == "ada@new.example")).all()
        assert isinstance(by_index.value.orig, PlaintextRefused)
        with pytest.raises(StatementError) as by_value:
            session.scalars(select(person).where(person.email == "ada@new.example")).all()
        assert isinstance(by_value.value.orig, PlaintextRefused)


def test_plaintext_never_reaches_the_database_around_the_orm(engine: Engine, keys: ColumnKeys) -> None:
    base, person, _ = models(keys)
    base.metadata.create_all(engine)
    with engine.begin() as connection, pytest.raises(StatementError) as refused:
        connection.execute(insert(person.__table__).values(email="core@example.com"))
    assert isinstance(refused.value.orig, PlaintextRefused) and "core@" not in str(refused.value.orig)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM people")).scalar_one() == 0


def test_data_keys_are_reused_within_their_bounds_only(client: Client, blind_key: str, tmp_path: Path) -> None:
    keys = ColumnKeys(client, TRANSIT_KEY, max_uses=3, max_age=60, blind_index_key=blind_key)
    now = [1000.0]
    keys._clock = lambda: now[0]  # a clock the test moves
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    base, person, _ = models(keys)
    base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([person(email=f"p{i}@example.com") for i in range(10)])
        session.commit()
    assert keys.datakeys_requested == 4  # 3 + 3 + 3 + 1
    now[0] += 61
    with Session(engine) as session:
        session.add(person(email="late@example.com"))
        session.commit()
    assert keys.datakeys_requested == 5

    reader = ColumnKeys(client, TRANSIT_KEY, max_uses=100, max_cached=1, blind_index_key=blind_key)
    _, reading, _ = models(reader)
    with Session(engine) as session:
        emails = [p.email for p in session.scalars(select(reading).order_by(reading.id))]
    assert emails[:2] == ["p0@example.com", "p1@example.com"] and emails[-1] == "late@example.com"
    assert reader.datakeys_unwrapped == 5  # one per data key, in order: the single slot suffices
    with Session(engine) as session:
        list(session.scalars(select(reading).order_by(reading.id.desc())))
    assert reader.datakeys_unwrapped == 9  # reversed: the last key is still cached, each other one evicts
    assert TRANSIT_KEY in repr(keys) and "plaintext" not in repr(keys)
    with pytest.raises(TypeError):
        __import__("pickle").dumps(keys)


def _plain_table(engine: Engine, rows: int) -> list[str]:
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE clients (id INTEGER PRIMARY KEY, email TEXT, email_index VARCHAR(64), note TEXT)")
        )
        emails = [f"Client{i:05d}@Plain.Example" for i in range(rows)]
        connection.execute(
            text("INSERT INTO clients (id, email, note) VALUES (:id, :email, :note)"),
            [{"id": i + 1, "email": None if i % 97 == 5 else email, "note": f"n{i}"} for i, email in enumerate(emails)],
        )
    return emails


def _client_model(keys: ColumnKeys, accept_plaintext: bool = False) -> type[Any]:
    class Base(DeclarativeBase):
        pass

    class Customer(Base):
        __tablename__ = "clients"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str | None] = mapped_column(Encrypted(String, keys, accept_plaintext=accept_plaintext))
        email_index: Mapped[str | None] = mapped_column(BlindIndex("email", keys))
        note: Mapped[str | None]

    return Customer


def _verify_migrated(engine: Engine, keys: ColumnKeys, emails: list[str]) -> None:
    customer = _client_model(keys)
    with Session(engine) as session:
        loaded = {c.id: c.email for c in session.scalars(select(customer))}
        assert len(loaded) == len(emails)
        for i, email in enumerate(emails):
            assert loaded[i + 1] == (None if i % 97 == 5 else email), i + 1
        hit = session.scalars(
            select(customer).where(customer.email_index == blind(customer.email_index, emails[7].lower()))
        )
        assert [c.id for c in hit] == [8]


def test_the_migration_encrypts_in_place_with_a_dry_run_first(engine: Engine, keys: ColumnKeys) -> None:
    emails = _plain_table(engine, 300)
    report = migrate_column_to_encryption(
        engine, "clients", "email", keys, blind_index="email_index", batch_size=64, dry_run=True, progress=None
    )
    assert (report.scanned, report.encrypted, report.empty, report.dry_run) == (300, 296, 4, True)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT email FROM clients WHERE id = 1")).scalar_one() == emails[0]

    # Without accept_plaintext a row not migrated yet is refused, not passed off as decrypted.
    with Session(engine) as session, pytest.raises(ColumnDecryptionError, match="does not hold an encrypted value"):
        session.get(_client_model(keys), 201)
    # The application, upgraded with accept_plaintext for the window, works ahead of the migration:
    # a row it touches is sealed (with its blind index) even when the encrypted value did not change.
    customer = _client_model(keys, accept_plaintext=True)
    with Session(engine) as session:
        ahead = session.get(customer, 250)
        assert ahead is not None and ahead.email == emails[249]
        ahead.note = "touched"
        session.commit()
    with engine.connect() as connection:
        stored, index = connection.execute(text("SELECT email, email_index FROM clients WHERE id = 250")).one()
        assert is_encrypted(stored) and index is not None

    report = migrate_column_to_encryption(
        engine, "clients", "email", keys, blind_index="email_index", batch_size=64, progress=None
    )
    assert (report.scanned, report.encrypted, report.already_encrypted, report.empty) == (300, 295, 1, 4)
    _verify_migrated(engine, keys, emails)
    again = migrate_column_to_encryption(engine, "clients", "email", keys, batch_size=64, progress=None)
    assert (again.encrypted, again.already_encrypted, again.resumed) == (0, 296, False)
    _verify_migrated(engine, keys, emails)
    if engine.dialect.name == "sqlite":
        # Updated rows leave the old plaintext in free pages until a VACUUM.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM"))
        engine.dispose()
        raw = Path(str(engine.url.database)).read_bytes()
        assert b"Plain.Example" not in raw and b"Client00001" not in raw


MIGRATION_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from sqlalchemy import create_engine
    from strongroom import Client
    from strongroom.sqlalchemy import ColumnKeys, migrate_column_to_encryption

    client = Client(os.environ["SR_URL"], api_key=os.environ["SR_API_KEY"])
    keys = ColumnKeys(client, os.environ["SR_TRANSIT_KEY"], blind_index_key=os.environ["SR_BLIND_KEY"])
    engine = create_engine(os.environ["SR_DB_URL"])
    migrate_column_to_encryption(engine, "clients", "email", keys, blind_index="email_index",
                                 batch_size=20, pause=0.02, progress=sys.stderr)
    """
)


def test_a_killed_migration_resumes_and_finishes(
    engine: Engine, keys: ColumnKeys, strongroom: tuple[LocalServer, str], blind_key: str
) -> None:
    emails = _plain_table(engine, 2000)
    server, api_key = strongroom
    env = dict(
        os.environ,
        SR_URL=server.url,
        SR_API_KEY=api_key,
        SR_TRANSIT_KEY=TRANSIT_KEY,
        SR_BLIND_KEY=blind_key,
        SR_DB_URL=engine.url.render_as_string(hide_password=False),
    )
    child = subprocess.Popen(
        [sys.executable, "-c", MIGRATION_SCRIPT], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    scanned = 0
    while scanned < 300:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the migration did not start"
        time.sleep(0.05)
        with engine.connect() as connection:
            try:
                scanned = connection.execute(text("SELECT scanned FROM strongroom_column_migrations")).scalar() or 0
            except Exception:  # the table is not there yet
                connection.rollback()
    child.send_signal(signal.SIGKILL)
    _, shown = child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert "encrypting clients.email [" in shown.decode()
    with engine.connect() as connection:
        scanned, counted, done = connection.execute(
            text("SELECT scanned, encrypted, finished FROM strongroom_column_migrations")
        ).one()
        encrypted_now = sum(
            is_encrypted(v) for (v,) in connection.execute(text("SELECT email FROM clients WHERE email IS NOT NULL"))
        )
    # Killed mid-way, and what is encrypted is exactly what the progress row records.
    assert 300 <= scanned < 2000 and not done and encrypted_now == counted

    report = migrate_column_to_encryption(
        engine, "clients", "email", keys, blind_index="email_index", batch_size=200, progress=None
    )
    assert report.resumed and report.scanned == 2000
    assert (report.encrypted, report.already_encrypted, report.empty) == (1979, 0, 21)
    _verify_migrated(engine, keys, emails)


def test_the_stored_form_is_recognised_and_anything_else_is_not(keys: ColumnKeys) -> None:
    associated = bind("people", "email", [7])
    envelope = seal_value(keys, b"ada@example.com", associated)
    as_bytes, as_text = envelope.to_bytes(), envelope.to_text()
    assert as_bytes[:4] == b"SRC\x01" and as_text.startswith("srenc:")
    assert Envelope.parse(as_bytes) == envelope == Envelope.parse(as_text)
    assert open_value(keys, as_text, associated, "here") == b"ada@example.com"
    for plaintext in ("ada@example.com", "srenc:not base64!", "srenc:" + as_text[6:40], b"SRC\x02" + as_bytes[4:], b""):
        assert Envelope.parse(plaintext) is None and not is_encrypted(plaintext)
    tampered = bytearray(as_bytes)
    tampered[-1] ^= 1
    with pytest.raises(ColumnDecryptionError, match="did not decrypt"):
        open_value(keys, bytes(tampered), associated, "people.email of row (7,)")
    # Lengths are part of the binding: ("ab", "c") and ("a", "bc") are different places.
    assert bind("ab", "c", [1]) != bind("a", "bc", [1])


def test_values_written_before_a_transit_key_rotation_still_read(client: Client, tmp_path: Path) -> None:
    client.transit.create_key("rotating")
    keys = ColumnKeys(client, "rotating", blind_index_key=ColumnKeys(client, "rotating").new_blind_index_key())
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    base, person, _ = models(keys)
    base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(person(email="before@example.com"))
        session.commit()
    client.transit.rotate_key("rotating")
    keys.forget()  # a new data key now, wrapped under version 2
    with Session(engine) as session:
        session.add(person(email="after@example.com"))
        session.commit()
    with Session(engine) as session:
        assert [p.email for p in session.scalars(select(person).order_by(person.id))] == [
            "before@example.com",
            "after@example.com",
        ]
    with engine.connect() as connection:
        wrapped = [Envelope.parse(v) for (v,) in connection.execute(text("SELECT email FROM people ORDER BY id"))]
    assert [e.wrapped_key[:9] for e in wrapped if e is not None] == ["vault:v1:", "vault:v2:"]
