# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""The client: one object per server and identity, with an attribute per API
area (``client.transit``, ``client.audit``, …)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import httpx

from .._credentials import ApiKey, BearerToken, Credentials, Tokens
from .._retry import Retry
from ._transport import Transport
from .access_requests import AccessRequests
from .api_keys import ApiKeys
from .audit import Audit
from .auth import Auth
from .blobs import Blobs
from .collections import Collections
from .keys import Jobs, Keys
from .matters import Matters
from .policies import Authz, Policies
from .records import Records
from .roles import Roles
from .transit import Transit
from .users import Sessions, Users

__all__ = ["Client"]


class Client:
    """A Strongroom client.

    Authenticate as a service with ``api_key=`` (``sr_<id>_<secret>``), as a
    user with :meth:`login` (the tokens are refreshed by themselves), or with
    an access token the application was handed (``token=``)::

        with Client("https://strongroom:8200", api_key=key) as client:
            ciphertext = client.transit.encrypt("transcripts", b"...")

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
        http: httpx.Client | None = None,
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
        self._transport = Transport(
            url, credentials=credentials, retry=retry, timeout=timeout, http=http, on_refresh=on_refresh
        )
        self.auth = Auth(self._transport)
        self.transit = Transit(self._transport)
        self.audit = Audit(self._transport)
        self.collections = Collections(self._transport)
        self.records = Records(self._transport)
        self.matters = Matters(self._transport)
        self.blobs = Blobs(self._transport)
        self.users = Users(self._transport)
        self.sessions = Sessions(self._transport)
        self.api_keys = ApiKeys(self._transport)
        self.roles = Roles(self._transport)
        self.access_requests = AccessRequests(self._transport)
        self.keys = Keys(self._transport)
        self.jobs = Jobs(self._transport)
        self.policies = Policies(self._transport)
        self.authz = Authz(self._transport)

    @property
    def url(self) -> str:
        return self._transport.base_url

    @property
    def credentials(self) -> Credentials | None:
        return self._transport.credentials

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r}, {self._transport.credentials!r})"
