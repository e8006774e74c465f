"""The client: one object per server and identity, with an attribute per API
area (``client.transit``, ``client.audit``, …)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import httpx

from .._credentials import ApiKey, BearerToken, Credentials, Tokens
from .._retry import Retry
from ._transport import AsyncTransport
from .access_requests import AsyncAccessRequests
from .api_keys import AsyncApiKeys
from .audit import AsyncAudit
from .auth import AsyncAuth
from .blobs import AsyncBlobs
from .collections import AsyncCollections
from .keys import AsyncJobs, AsyncKeys
from .matters import AsyncMatters
from .policies import AsyncAuthz, AsyncPolicies
from .records import AsyncRecords
from .roles import AsyncRoles
from .transit import AsyncTransit
from .users import AsyncSessions, AsyncUsers

__all__ = ["AsyncClient"]


class AsyncClient:
    """A Strongroom client.

    Authenticate as a service with ``api_key=`` (``sr_<id>_<secret>``), as a
    user with :meth:`login` (the tokens are refreshed by themselves), or with
    an access token the application was handed (``token=``)::

        async with AsyncClient("https://strongroom:8200", api_key=key) as client:
            ciphertext = await client.transit.encrypt("transcripts", b"...")

    Idempotent calls are retried on connection errors and 429/502/503/504
    (``retry=Retry(attempts=1)`` turns that off); every error answer raises a
    :class:`strongroom.errors.ProblemError` subclass carrying ``code`` and
    ``request_id``.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        tokens: Tokens | None = None,
        retry: Retry | None = None,
        timeout: float = 30.0,
        http: httpx.AsyncClient | None = None,
        on_refresh: Callable[[Tokens], None] | None = None,
    ) -> None:
        given = [c for c in (api_key, token, tokens) if c is not None]
        if len(given) > 1:
            raise ValueError("pass at most one of api_key, token and tokens")
        credentials: Credentials | None = None
        if api_key is not None:
            credentials = ApiKey(api_key)
        elif token is not None:
            credentials = BearerToken(token)
        elif tokens is not None:
            credentials = tokens
        self._transport = AsyncTransport(
            url, credentials=credentials, retry=retry, timeout=timeout, http=http, on_refresh=on_refresh
        )
        self.auth = AsyncAuth(self._transport)
        self.transit = AsyncTransit(self._transport)
        self.audit = AsyncAudit(self._transport)
        self.collections = AsyncCollections(self._transport)
        self.records = AsyncRecords(self._transport)
        self.matters = AsyncMatters(self._transport)
        self.blobs = AsyncBlobs(self._transport)
        self.users = AsyncUsers(self._transport)
        self.sessions = AsyncSessions(self._transport)
        self.api_keys = AsyncApiKeys(self._transport)
        self.roles = AsyncRoles(self._transport)
        self.access_requests = AsyncAccessRequests(self._transport)
        self.keys = AsyncKeys(self._transport)
        self.jobs = AsyncJobs(self._transport)
        self.policies = AsyncPolicies(self._transport)
        self.authz = AsyncAuthz(self._transport)

    @property
    def url(self) -> str:
        return self._transport.base_url

    @property
    def credentials(self) -> Credentials | None:
        return self._transport.credentials

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r}, {self._transport.credentials!r})"
