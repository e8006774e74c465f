"""Encrypted sessions kept in Strongroom, against a real server: a real
FastAPI app with the Starlette middleware and a real Flask app with the
session interface."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from flask import Flask, session

from strongroom import AsyncClient, Client
from strongroom.flask_sessions import SessionStore, StrongroomSessionInterface
from strongroom.starlette_sessions import DEFAULT_REASON, AsyncSessionStore, StrongroomSessionMiddleware, session_id
from strongroom.testing import LocalServer

from .web_deployment import ADMIN_PASSWORD

SECRET = "the application's own cookie secret, not Strongroom's"
MATTER = "app-sessions"
PURPOSE = "app_session"


@dataclass
class Sessions:
    server: LocalServer
    #: The application's key: writes, reveals and deletes in the sessions matter.
    key: str

    def store(self, **options: Any) -> SessionStore:
        return SessionStore(Client(self.server.url, api_key=self.key), matter=MATTER, purpose=PURPOSE, **options)

    def async_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncSessionStore(
            AsyncClient(self.server.url, api_key=self.key), matter=MATTER, purpose=PURPOSE, **options
        )


@pytest.fixture
def sessions(make_server) -> Sessions:  # type: ignore[no-untyped-def]
    # The operator adds a purpose for session reveals beside the default ones.
    server = make_server(authz_purposes=f"case_work,{PURPOSE}")
    server.init(ADMIN_PASSWORD)
    key = server.api_key("records:decrypt", "collections:manage", name="web-app")
    with Client(server.url) as admin:
        admin.auth.login("admin", ADMIN_PASSWORD)
        admin.matters.create("The web app's sessions", id=MATTER)
        admin.matters.grant(MATTER, "api_key:" + key.split("_")[1], justification="the web app keeps its sessions here")
    with Client(server.url, api_key=key) as client:
        SessionStore(client, matter=MATTER, purpose=PURPOSE).create_collection()
    return Sessions(server, key)


def shop_api(store: AsyncSessionStore) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await store.client.aclose()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(StrongroomSessionMiddleware, store=store, secret_key=SECRET)

    @app.post("/login/{name}")
    async def login(name: str, request: Request) -> dict[str, Any]:
        request.session["user"] = name
        request.session["basket"] = ["deposition transcript"]
        return {}

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        return {"user": request.session.get("user"), "session": session_id(request)}

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, Any]:
        request.session.clear()
        return {}

    return app


@pytest.fixture
def shop(sessions: Sessions) -> Iterator[tuple[TestClient, AsyncSessionStore]]:
    store = sessions.async_store()
    with TestClient(shop_api(store)) as http:
        yield http, store


def test_starlette_sessions_live_encrypted_in_strongroom(sessions: Sessions, shop) -> None:  # type: ignore[no-untyped-def]
    http, _ = shop
    assert http.get("/whoami").json() == {"user": None, "session": None}
    assert "set-cookie" not in http.get("/whoami").headers  # nothing to keep, nothing written
    http.post("/login/alice")
    cookie = http.cookies["session"]
    assert "alice" not in cookie and "basket" not in cookie  # the cookie is a signed id, no data
    unchanged = http.get("/whoami")
    answer = unchanged.json()
    assert answer["user"] == "alice" and cookie.startswith(answer["session"] + ".")
    assert "set-cookie" not in unchanged.headers  # read, not changed: nothing written back

    # In Strongroom the record withholds the data from anyone who merely reads it.
    with Client(sessions.server.url, api_key=sessions.key) as app_key:
        record = app_key.records.get("app_sessions", answer["session"])
        assert record.withheld_fields == ("data",) and "alice" not in repr(record)
    # Every load was a reveal, audited with the store's reason; the log holds no session data.
    with Client(sessions.server.url) as admin:
        admin.auth.login("admin", ADMIN_PASSWORD)
        reveals = [e.event for e in admin.audit.events(action="record.decrypt", matter=MATTER)]
    assert [(r["target"]["id"], r["purpose"]) for r in reveals] == [(answer["session"], PURPOSE)]
    assert reveals[0]["justification"] == DEFAULT_REASON and "alice" not in repr(reveals)

    http.post("/logout")
    assert http.get("/whoami").json() == {"user": None, "session": None}
    assert sessions.store().load(answer["session"]) is None  # the record is gone, not just the cookie


def test_a_revoked_session_ends_and_its_cookie_is_cleared(sessions: Sessions, shop) -> None:  # type: ignore[no-untyped-def]
    http, _ = shop
    http.post("/login/bob")
    sid = http.get("/whoami").json()["session"]
    sessions.store().revoke(sid)  # e.g. an administrator ending bob's sessions
    answer = http.get("/whoami")
    assert answer.json() == {"user": None, "session": None}
    assert 'session=""' in answer.headers["set-cookie"] or "session=;" in answer.headers["set-cookie"]


def test_a_session_that_cannot_be_read_is_a_503_not_a_logout(sessions: Sessions, shop) -> None:  # type: ignore[no-untyped-def]
    http, _ = shop
    http.post("/login/dave")
    sessions.server.process.terminate()  # Strongroom goes away
    sessions.server.process.wait(timeout=30)
    answer = http.get("/whoami")
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "session_store_unavailable" and "set-cookie" not in answer.headers


def test_a_forged_or_swapped_cookie_is_ignored(sessions: Sessions, shop) -> None:  # type: ignore[no-untyped-def]
    http, _ = shop
    http.post("/login/carol")
    sid = http.get("/whoami").json()["session"]
    other = TestClient(http.app)
    other.cookies.set("session", sid)  # the id without its MAC
    assert other.get("/whoami").json()["user"] is None
    other.cookies.set("session", sid + ".bm90IHRoZSBtYWM")
    assert other.get("/whoami").json()["user"] is None


def test_sessions_expire_with_their_record(sessions: Sessions) -> None:
    store = sessions.async_store(ttl_seconds=2)
    with TestClient(shop_api(store)) as http:
        http.post("/login/dave")
        assert http.get("/whoami").json()["user"] == "dave"
        time.sleep(2.5)
        assert http.get("/whoami").json()["user"] is None


def test_the_async_store_round_trips(sessions: Sessions) -> None:
    async def run() -> tuple[dict[str, Any] | None, dict[str, Any] | None, bool]:
        store = sessions.async_store()
        async with store.client:
            sid = await store.create({"user": "erin", "n": 1})
            assert await store.save(sid, {"user": "erin", "n": 2})
            loaded = await store.load(sid)
            await store.revoke(sid)
            return loaded, await store.load(sid), await store.save(sid, {"user": "erin"})

    assert asyncio.run(run()) == ({"user": "erin", "n": 2}, None, False)


def interviews_app(store: SessionStore) -> Flask:
    app = Flask(__name__)
    app.secret_key = SECRET
    app.session_interface = StrongroomSessionInterface(store)

    @app.post("/login/<name>")
    def login(name: str) -> dict[str, Any]:
        session["user"] = name
        return {}

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"user": session.get("user"), "session": getattr(session, "sid", None)}

    @app.post("/logout")
    def logout() -> dict[str, Any]:
        session.clear()
        return {}

    return app


def test_flask_sessions_live_encrypted_in_strongroom(sessions: Sessions) -> None:
    store = sessions.store()
    http = interviews_app(store).test_client()
    assert http.get("/whoami").json == {"user": None, "session": None}
    http.post("/login/frank")
    cookie = http.get_cookie("session")
    assert cookie is not None and "frank" not in cookie.value
    answer = http.get("/whoami").json
    assert answer["user"] == "frank" and cookie.value.startswith(answer["session"] + ".")
    assert store.load(answer["session"]) == {"user": "frank"}

    store.revoke(answer["session"])
    assert http.get("/whoami").json == {"user": None, "session": None}
    assert http.get_cookie("session") is None  # the dead session's cookie was cleared

    http.post("/login/grace")
    sid = http.get("/whoami").json["session"]
    http.post("/logout")
    assert http.get_cookie("session") is None and store.load(sid) is None
    store.client.close()
