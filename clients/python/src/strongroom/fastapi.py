"""FastAPI: Strongroom as the identity provider of an application's own
endpoints, in place of the ``OAuth2PasswordBearer(tokenUrl="token")``
pattern (``pip install "strongroom[fastapi]"``)::

    from fastapi import Depends, FastAPI
    from strongroom import AsyncClient
    from strongroom.authenticated import AuthenticatedUser
    from strongroom.fastapi import StrongroomBearer

    client = AsyncClient(STRONGROOM_URL, api_key=KEY)   # scope auth:introspect
    current_user = StrongroomBearer(client)              # tokenUrl: Strongroom's /token

    @app.get("/transcripts/{matter_id}")
    async def transcripts(user: AuthenticatedUser = Depends(current_user.require_matter("matter_id"))): ...

A token is verified locally against the JWKS (``aud`` and ``iss`` checked,
an unknown ``kid`` fetched) and its session confirmed by introspection,
reused for at most ``max_staleness`` seconds (see
:class:`strongroom._async.verifier.AsyncTokenVerifier`). Answers: 401 with
``WWW-Authenticate: Bearer`` for a missing or refused token, 403 for a
missing role, permission or grant, 503 when Strongroom cannot confirm.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of
# ``StrongroomBearer.__call__`` at run time, and an instance has no
# ``__globals__`` to resolve string annotations in.
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from ._access_tokens import TokenRejected
from ._async.client import AsyncClient
from ._async.verifier import AsyncTokenVerifier
from .authenticated import AuthenticatedUser
from .errors import StrongroomError

__all__ = ["AsyncTokenVerifier", "AuthenticatedUser", "StrongroomBearer", "TokenRejected"]

log = logging.getLogger("strongroom.fastapi")

Dependency = Callable[..., Awaitable[AuthenticatedUser]]


class StrongroomBearer(OAuth2PasswordBearer):
    """A FastAPI dependency that yields the :class:`AuthenticatedUser` behind
    the request's bearer token.

    It *is* an ``OAuth2PasswordBearer`` (the OpenAPI document and Swagger's
    "Authorize" button work as before); ``tokenUrl`` defaults to
    Strongroom's ``/token``, which takes the ``OAuth2PasswordRequestForm``
    fields. Pass an :class:`AsyncClient` (API key with ``auth:introspect``)
    and the verifier's options, or a ready :class:`AsyncTokenVerifier`.
    """

    def __init__(
        self,
        client: AsyncClient | AsyncTokenVerifier,
        *,
        tokenUrl: str | None = None,  # the name OAuth2PasswordBearer uses
        max_staleness: float = 5.0,
        audience: str | None = None,
        **verifier_options: Any,
    ) -> None:
        if isinstance(client, AsyncTokenVerifier):
            self.verifier = client
        else:
            self.verifier = AsyncTokenVerifier(
                client, max_staleness=max_staleness, audience=audience, **verifier_options
            )
        super().__init__(tokenUrl=tokenUrl or f"{self.verifier.client.url}/token", auto_error=True)

    async def __call__(self, request: Request) -> AuthenticatedUser:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:  # auto_error already answered 401; this keeps the type checker honest
            raise _unauthorized("missing")
        try:
            user = await self.verifier.verify(token)
        except TokenRejected as rejected:
            raise _unauthorized(rejected.reason) from None
        except StrongroomError as error:
            log.warning("strongroom could not confirm a session: %s", error)
            raise HTTPException(503, "the identity provider cannot be reached") from None
        request.state.strongroom_user = user
        return user

    def require_role(self, *roles: str) -> Dependency:
        """A dependency admitting users who hold at least one of ``roles``."""

        async def role_holder(user: AuthenticatedUser = Depends(self)) -> AuthenticatedUser:  # noqa: B008
            if not user.has_role(*roles):
                raise HTTPException(403, f"needs one of the roles: {', '.join(roles)}")
            return user

        return role_holder

    def require_matter(self, path_param: str) -> Dependency:
        """A dependency admitting users who hold a grant on the matter named
        by the path parameter ``path_param`` (its id)."""

        async def matter_holder(request: Request, user: AuthenticatedUser = Depends(self)) -> AuthenticatedUser:  # noqa: B008
            matter = request.path_params.get(path_param)
            if matter is None:
                raise RuntimeError(f"require_matter: the route has no path parameter {path_param!r}")
            if not user.holds_matter(str(matter)):
                # As Strongroom does: a matter without a grant is not found.
                raise HTTPException(404, "no such matter")
            return user

        return matter_holder

    def require_permission(self, action: str, *, matter_param: str | None = None) -> Dependency:
        """A dependency admitting users whom Strongroom's policies allow
        ``action`` (e.g. ``record.decrypt``), anywhere or, with
        ``matter_param``, in the matter named by that path parameter.

        Evaluated by Strongroom: ``GET /v1/users/me`` with the user's own
        token, reused for ``max_staleness`` seconds like the session.
        """

        async def permitted(request: Request, user: AuthenticatedUser = Depends(self)) -> AuthenticatedUser:  # noqa: B008
            matter = None
            if matter_param is not None:
                value = request.path_params.get(matter_param)
                if value is None:
                    raise RuntimeError(f"require_permission: the route has no path parameter {matter_param!r}")
                matter = str(value)
            try:
                me = await self.verifier.permissions(user)
            except TokenRejected as rejected:
                raise _unauthorized(rejected.reason) from None
            except StrongroomError as error:
                log.warning("strongroom could not answer the user's permissions: %s", error)
                raise HTTPException(503, "the identity provider cannot be reached") from None
            if not me.may(action, matter):
                raise HTTPException(403, f"not permitted: {action}")
            return user

        return permitted


def _unauthorized(reason: str) -> HTTPException:
    challenge = f'Bearer error="invalid_token", error_description="{reason}"'
    return HTTPException(401, "not authenticated", headers={"WWW-Authenticate": challenge})
