"""The backend end to end: a real Strongroom server, an existing SQLite
table migrated in place, the real FastAPI app (TestClient) serving partner
keys, and an incident handled with the admin's calls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from strongroom import Client
from strongroom.errors import ProblemError
from strongroom.testing import LocalServer

from .app import create_app
from .incident import contain_user, revoke_key
from .migrate import add_blind_index_column, encrypt_emails
from .models import customer_model
from .provision import issue_partner_key, provision_backend
from .settings import Settings

ADMIN_PASSWORD = "correct horse battery staple 42"
CUSTOMERS = [{"id": i, "name": f"Customer {i}", "email": f"customer{i:03d}@Example.org"} for i in range(1, 121)]


@dataclass
class Backend:
    server: LocalServer
    settings: Settings
    admin: Client


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    database_url = f"sqlite:///{tmp_path / 'customers.db'}"
    with create_engine(database_url).begin() as db:  # the table as the app has always had it
        db.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)"))
        db.execute(
            text("INSERT INTO customers VALUES (:id, :name, :email)"),
            CUSTOMERS,
        )
    with LocalServer() as server, Client(server.url) as admin:
        server.init(ADMIN_PASSWORD)
        admin.auth.login("admin", ADMIN_PASSWORD)
        app_key, blind_index_key = provision_backend(admin)
        yield Backend(server, Settings(server.url, app_key, blind_index_key, database_url), admin)


def test_the_email_column_is_encrypted_in_place(backend: Backend) -> None:
    engine, keys = backend.settings.engine(), backend.settings.column_keys()
    add_blind_index_column(engine)
    planned = encrypt_emails(engine, keys, dry_run=True)
    assert (planned.scanned, planned.encrypted) == (120, 120)

    # The app runs during the migration, with accept_plaintext for that window only.
    with Session(engine) as db:
        ahead = db.get(customer_model(keys, accept_plaintext=True), 7)
        assert ahead is not None and ahead.email == "customer007@Example.org"

    done = encrypt_emails(engine, keys)
    assert (done.encrypted, done.already_encrypted) == (120, 0)
    assert encrypt_emails(engine, keys).encrypted == 0  # a second run finds nothing left
    with engine.connect() as db:
        stored = db.execute(text("SELECT email, email_index FROM customers WHERE id = 7")).one()
    assert stored.email.startswith("srenc:") and "Example.org" not in stored.email and stored.email_index

    Customer = customer_model(keys)
    with Session(engine) as db:
        after = db.get(Customer, 7)
        assert after is not None and after.email == "customer007@Example.org"


def test_partner_keys_are_checked_through_introspection(backend: Backend) -> None:
    add_blind_index_column(backend.settings.engine())
    encrypt_emails(backend.settings.engine(), backend.settings.column_keys())
    reader = issue_partner_key(backend.admin, "acme", "app:customers.read")
    writer = issue_partner_key(backend.admin, "billing", "app:customers.read", "app:customers.write")
    with TestClient(create_app(backend.settings)) as app:
        # Equality on the encrypted column, through the blind index (case and spaces do not matter).
        found = app.get("/customers", params={"email": " CUSTOMER042@example.org"}, headers={"X-API-Key": reader})
        assert found.status_code == 200, found.text
        assert found.json() == [{"id": 42, "name": "Customer 42", "email": "customer042@Example.org"}]

        new = {"name": "Ada", "email": "ada@example.net"}
        assert app.post("/customers", json=new, headers={"X-API-Key": reader}).status_code == 403
        assert app.post("/customers", json=new, headers={"X-API-Key": writer}).status_code == 201
        assert (
            app.get("/customers", params={"email": "ada@example.net"}, headers={"X-API-Key": reader}).json()[0]["name"]
            == "Ada"
        )

        assert app.get("/customers", params={"email": "x"}).status_code == 401
        # The backend's own Strongroom key is no partner key.
        own = app.get("/customers", params={"email": "x"}, headers={"X-API-Key": backend.settings.app_key})
        assert own.status_code == 401
        # A leaked partner key: revoked once, refused from the next call on.
        revoke_key(backend.admin, reader.split("_")[1])
        assert app.get("/customers", params={"email": "x"}, headers={"X-API-Key": reader}).status_code == 401

    # An application key opens nothing in Strongroom itself.
    with Client(backend.server.url, api_key=writer) as partner, pytest.raises(ProblemError) as refused:
        partner.audit.stats()
    assert refused.value.status == 403


def test_incident_response_locks_the_user_and_revokes_everything(backend: Backend) -> None:
    backend.server.create_user("mallory", "violet harbour lantern 73", "analyst")
    backend.server.create_user("etl", "amber canal at dusk 9999", "system")
    etl_key = backend.server.cli("apikey", "create", "--name", "etl", "--scope", "transit:use", "--owner", "etl")
    with Client(backend.server.url) as mallory:
        mallory.auth.login("mallory", "violet harbour lantern 73")
        assert mallory.auth.me().username == "mallory"

        contain_user(backend.admin, "mallory", "phished, ticket SEC-12")
        contain_user(backend.admin, "etl", "its host was compromised, ticket SEC-13")

        with Client(backend.server.url, api_key=backend.settings.app_key) as checker:
            assert not checker.auth.introspect(mallory.credentials.access_token).active  # type: ignore[union-attr]
            assert not checker.auth.introspect(etl_key).active
        with pytest.raises(ProblemError):
            Client(backend.server.url).auth.login("mallory", "violet harbour lantern 73")
    kinds = {e.type for e in backend.admin.audit.events(action="user.*", limit=50)}
    assert "user.lock" in kinds
