"""Flask: ``flask.session`` kept encrypted in Strongroom instead of in a
signed cookie (which anyone holding it can read)::

    from strongroom import Client
    from strongroom.flask_sessions import SessionStore, StrongroomSessionInterface

    store = SessionStore(Client(URL, api_key=KEY), matter="app-sessions", purpose="app_session")
    app.session_interface = StrongroomSessionInterface(store)

The cookie holds only the session's record id with an HMAC under the app's
``SECRET_KEY``; the data lives in a Strongroom record (see
:class:`SessionStore`). A session is written only when it changed; an
emptied one (``session.clear()``) is revoked, its record crypto-shredded.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from ._session_cookie import sign_session_id, unsign_session_id
from ._sync.session_store import DEFAULT_REASON, SessionStore

__all__ = ["DEFAULT_REASON", "SessionStore", "StrongroomSession", "StrongroomSessionInterface"]


class StrongroomSession(CallbackDict[str, Any], SessionMixin):
    """The session of one request; ``sid`` is its record id (``None`` until
    first saved), to revoke it from elsewhere with :meth:`SessionStore.revoke`."""

    def __init__(self, data: dict[str, Any] | None = None, sid: str | None = None, stale_cookie: bool = False) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.stale_cookie = stale_cookie
        self.modified = False


class StrongroomSessionInterface(SessionInterface):
    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def open_session(self, app: Flask, request: Request) -> StrongroomSession | None:
        if not app.secret_key:
            return None  # Flask then answers with its "no secret key" error, as without this interface
        presented = unsign_session_id(app.secret_key, request.cookies.get(self.get_cookie_name(app)))
        data = self.store.load(presented) if presented else None
        if data is None:
            return StrongroomSession(stale_cookie=presented is not None)
        return StrongroomSession(data, sid=presented)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, StrongroomSession)
        name = self.get_cookie_name(app)
        domain, path = self.get_cookie_domain(app), self.get_cookie_path(app)
        if not session:
            if session.modified and session.sid is not None:
                self.store.revoke(session.sid)
                session.sid = None
            if session.modified or session.stale_cookie:
                response.delete_cookie(name, domain=domain, path=path)
            return
        if not session.modified:
            return
        if session.sid is None or not self.store.save(session.sid, dict(session)):
            session.sid = self.store.create(dict(session))
            assert app.secret_key is not None
            response.set_cookie(
                name,
                sign_session_id(app.secret_key, session.sid),
                max_age=self.store.ttl_seconds,
                httponly=self.get_cookie_httponly(app),
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
                domain=domain,
                path=path,
            )
