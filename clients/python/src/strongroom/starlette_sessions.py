"""Starlette/FastAPI: ``request.session`` kept encrypted in Strongroom
instead of in a signed cookie (which anyone holding it can read)::

    from strongroom import AsyncClient
    from strongroom.starlette_sessions import AsyncSessionStore, StrongroomSessionMiddleware

    store = AsyncSessionStore(AsyncClient(URL, api_key=KEY), matter="app-sessions", purpose="app_session")
    app.add_middleware(StrongroomSessionMiddleware, store=store, secret_key=SECRET)

A drop-in for Starlette's ``SessionMiddleware``: the cookie holds only the
session's record id with an HMAC under ``secret_key``; the data lives in a
Strongroom record (see :class:`AsyncSessionStore`). A session is written
when the response starts and only if it changed; an emptied session
(``request.session.clear()``) is revoked, its record crypto-shredded.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any, Literal

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._async.session_store import DEFAULT_REASON, AsyncSessionStore
from ._session_cookie import sign_session_id, unsign_session_id
from .errors import TransportError, Unavailable

__all__ = ["DEFAULT_REASON", "AsyncSessionStore", "StrongroomSessionMiddleware", "session_id"]

#: Where the middleware leaves the current session's id in the ASGI scope.
SCOPE_KEY = "strongroom.session_id"


def session_id(connection: HTTPConnection) -> str | None:
    """The current session's id (its record's), to revoke it from elsewhere
    with :meth:`AsyncSessionStore.revoke`; ``None`` before it is first saved."""
    value = connection.scope.get(SCOPE_KEY)
    return value if isinstance(value, str) else None


class StrongroomSessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: AsyncSessionStore,
        secret_key: str | bytes,
        session_cookie: str = "session",
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.secret_key = secret_key
        self.session_cookie = session_cookie
        self.path = path
        self.same_site = same_site
        self.https_only = https_only
        self.domain = domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        presented = unsign_session_id(self.secret_key, connection.cookies.get(self.session_cookie))
        try:
            loaded = await self.store.load(presented) if presented else None
        except (TransportError, Unavailable):
            # Strongroom is down: the session can be neither read nor
            # replaced by an empty one (that would log the user out), so the
            # request is refused as the outage it is, to be retried.
            await _unavailable(send)
            return
        sid = presented if loaded is not None else None
        scope["session"] = dict(loaded or {})
        scope[SCOPE_KEY] = sid
        before = _fingerprint(loaded or {})

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._persist(scope, message, sid, before, stale_cookie=presented is not None and sid is None)
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _persist(
        self, scope: Scope, message: Message, sid: str | None, before: str, *, stale_cookie: bool
    ) -> None:
        session: dict[str, Any] = scope["session"]
        headers = MutableHeaders(scope=message)
        if _fingerprint(session) == before:
            if stale_cookie:
                headers.append("Set-Cookie", self._cookie("", max_age=0))
            return
        if not session:
            if sid is not None:
                await self.store.revoke(sid)
            headers.append("Set-Cookie", self._cookie("", max_age=0))
            return
        if sid is None or not await self.store.save(sid, session):
            sid = await self.store.create(session)
            scope[SCOPE_KEY] = sid
            headers.append("Set-Cookie", self._cookie(sign_session_id(self.secret_key, sid)))

    def _cookie(self, value: str, max_age: int | None = None) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[self.session_cookie] = value
        morsel = cookie[self.session_cookie]
        morsel["path"] = self.path
        morsel["max-age"] = str(self.store.ttl_seconds if max_age is None else max_age)
        morsel["httponly"] = True
        morsel["samesite"] = self.same_site
        if self.https_only:
            morsel["secure"] = True
        if self.domain:
            morsel["domain"] = self.domain
        return morsel.OutputString()


async def _unavailable(send: Send) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Service unavailable",
            "status": 503,
            "detail": "the session store (Strongroom) cannot be reached; retry",
            "code": "session_store_unavailable",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _fingerprint(session: dict[str, Any]) -> str:
    """A session's content, to tell whether a request changed it."""
    return json.dumps(session, sort_keys=True, separators=(",", ":"), default=str)
