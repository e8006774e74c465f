"""Flask: Strongroom as the identity provider of an application's own views
(``pip install "strongroom[flask]"``)::

    from flask import Flask
    from strongroom import Client
    from strongroom.flask import StrongroomAuth, current_user, require_auth, require_permission

    app = Flask(__name__)
    StrongroomAuth(app, Client(STRONGROOM_URL, api_key=KEY))   # scope auth:introspect

    @app.get("/interviews")
    @require_auth(roles=["interviewer", "admin"])
    def interviews():
        return {"user": current_user.username}

    @app.get("/matters/<matter_id>/transcript")
    @require_permission("record.decrypt", matter_arg="matter_id")
    def transcript(matter_id): ...

The bearer token is verified as the FastAPI integration does (locally
against the JWKS, then the session confirmed by introspection reused for at
most ``max_staleness`` seconds; :class:`strongroom._sync.verifier.TokenVerifier`).
Refusals are RFC 9457 problems: 401 with ``WWW-Authenticate: Bearer``, 403
for a missing role or permission, 404 for a matter without a grant, 503 when
Strongroom cannot confirm.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar, cast, overload

from flask import Flask, Response, abort, current_app, g, json, request
from werkzeug.local import LocalProxy

from ._access_tokens import TokenRejected
from ._sync.client import Client
from ._sync.verifier import TokenVerifier
from .authenticated import AuthenticatedUser
from .errors import StrongroomError

__all__ = [
    "AuthenticatedUser",
    "StrongroomAuth",
    "TokenRejected",
    "TokenVerifier",
    "current_user",
    "require_auth",
    "require_permission",
]

log = logging.getLogger("strongroom.flask")

View = TypeVar("View", bound=Callable[..., Any])

EXTENSION = "strongroom"


class StrongroomAuth:
    """The extension: holds the verifier the decorators use. Pass a
    :class:`Client` (API key with ``auth:introspect``) and the verifier's
    options, or a ready :class:`TokenVerifier`; ``init_app`` for factories."""

    def __init__(
        self,
        app: Flask | None = None,
        client: Client | TokenVerifier | None = None,
        *,
        max_staleness: float = 5.0,
        audience: str | None = None,
        **verifier_options: Any,
    ) -> None:
        self.verifier: TokenVerifier | None = None
        if client is not None:
            self.verifier = (
                client
                if isinstance(client, TokenVerifier)
                else TokenVerifier(client, max_staleness=max_staleness, audience=audience, **verifier_options)
            )
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, client: Client | TokenVerifier | None = None) -> None:
        if client is not None:
            self.verifier = client if isinstance(client, TokenVerifier) else TokenVerifier(client)
        if self.verifier is None:
            raise ValueError("StrongroomAuth needs a Client or a TokenVerifier")
        app.extensions[EXTENSION] = self

    def authenticate(self) -> AuthenticatedUser:
        """The user of the current request (verified once per request)."""
        cached = g.get("strongroom_user")
        if isinstance(cached, AuthenticatedUser):
            return cached
        assert self.verifier is not None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _refuse(401, "not authenticated", challenge='Bearer realm="strongroom"')
        try:
            user = self.verifier.verify(token.strip())
        except TokenRejected as rejected:
            _refuse(401, "not authenticated", challenge=_challenge(rejected.reason))
        except StrongroomError as error:
            log.warning("strongroom could not confirm a session: %s", error)
            _refuse(503, "the identity provider cannot be reached")
        g.strongroom_user = user
        return user


def _extension() -> StrongroomAuth:
    extension = current_app.extensions.get(EXTENSION)
    if not isinstance(extension, StrongroomAuth):
        raise RuntimeError("StrongroomAuth(app, client) was not set up for this application")
    return extension


@overload
def require_auth(view: View) -> View: ...
@overload
def require_auth(*, roles: Iterable[str] | None = None, matter_arg: str | None = None) -> Callable[[View], View]: ...


def require_auth(
    view: View | None = None, *, roles: Iterable[str] | None = None, matter_arg: str | None = None
) -> View | Callable[[View], View]:
    """Admits a request with a verified token; with ``roles``, only users
    holding one of them; with ``matter_arg``, only users holding a grant on
    the matter that URL variable names. ``@require_auth`` or
    ``@require_auth(roles=[...])``."""
    wanted = tuple(roles or ())

    def decorate(inner: View) -> View:
        @functools.wraps(inner)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = _extension().authenticate()
            if wanted and not user.has_role(*wanted):
                _refuse(403, f"needs one of the roles: {', '.join(wanted)}")
            if matter_arg is not None and not user.holds_matter(str(_view_arg(kwargs, matter_arg))):
                _refuse(404, "no such matter")
            return inner(*args, **kwargs)

        return cast(View, guarded)

    return decorate(view) if view is not None else decorate


def require_permission(action: str, *, matter_arg: str | None = None) -> Callable[[View], View]:
    """Admits users whom Strongroom's policies allow ``action`` (e.g.
    ``record.decrypt``), anywhere or, with ``matter_arg``, in the matter that
    URL variable names. Evaluated by Strongroom (``GET /v1/users/me`` with
    the user's own token), reused for ``max_staleness`` seconds."""

    def decorate(inner: View) -> View:
        @functools.wraps(inner)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            extension = _extension()
            user = extension.authenticate()
            matter = None if matter_arg is None else str(_view_arg(kwargs, matter_arg))
            assert extension.verifier is not None
            try:
                me = extension.verifier.permissions(user)
            except TokenRejected as rejected:
                _refuse(401, "not authenticated", challenge=_challenge(rejected.reason))
            except StrongroomError as error:
                log.warning("strongroom could not answer the user's permissions: %s", error)
                _refuse(503, "the identity provider cannot be reached")
            if not me.may(action, matter):
                _refuse(403, f"not permitted: {action}")
            return inner(*args, **kwargs)

        return cast(View, guarded)

    return decorate


def _current_user() -> AuthenticatedUser:
    user = g.get("strongroom_user")
    if not isinstance(user, AuthenticatedUser):
        raise RuntimeError("current_user is set only inside a view guarded by require_auth/require_permission")
    return user


#: The user of the current request, inside a guarded view.
current_user: AuthenticatedUser = cast(AuthenticatedUser, LocalProxy(_current_user))


def _view_arg(kwargs: dict[str, Any], name: str) -> Any:
    if name not in kwargs:
        raise RuntimeError(f"the view has no URL variable {name!r}")
    return kwargs[name]


def _challenge(reason: str) -> str:
    return f'Bearer error="invalid_token", error_description="{reason}"'


def _refuse(status: int, detail: str, *, challenge: str | None = None) -> NoReturn:
    """Ends the request with an RFC 9457 problem (never returns)."""
    body = {"type": "about:blank", "status": status, "title": _TITLES[status], "detail": detail}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    abort(response)


_TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}
