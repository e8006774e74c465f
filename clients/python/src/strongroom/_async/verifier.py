"""Verifying the access tokens an application's callers present: locally
against Strongroom's JWKS, then confirmed by introspection, with answers
reused for a bounded time.

A signature alone cannot tell a logged-out session, a locked user or a
revoked grant from a live one: the token stays valid until it expires.
Asking Strongroom on every request sees all of those at once but costs a
round trip each time. The verifier does both and lets the application
choose the trade: an introspection answer is reused for at most
``max_staleness`` seconds (default 5), so a logout takes effect within that
bound, and a busy endpoint asks once per token per bound.

The JWKS is cached for ``jwks_max_age`` seconds (the server says five
minutes may be cached) and fetched again at once when a token names a key
id it does not hold (the signer rotated); a key id still unknown after that
fetch is refused, and for ``jwks_refetch_cooldown`` seconds further unknown
ids are refused without fetching, so forged ids cannot turn every request
into a JWKS download.

This file is the source of truth; ``strongroom/_sync/verifier.py`` is
generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import hashlib
from time import monotonic
from typing import Any

import jwt

from .._access_tokens import TokenRejected, decode_claims, parse_jwks, signing_key_id
from .._locks import AsyncLock
from .._stale_cache import StaleCache
from ..authenticated import AuthenticatedUser
from ..errors import Unauthenticated
from ..models import Introspection, Me
from .client import AsyncClient

__all__ = ["AsyncTokenVerifier"]


class AsyncTokenVerifier:
    """Turns a bearer token into an :class:`AuthenticatedUser` or raises
    :class:`TokenRejected`.

    ``client`` authenticates with an API key holding the scope
    ``auth:introspect``. ``audience`` is the server's ``identity.audience``
    (unset there: its issuer, which is the default here); the issuer is read
    from ``/.well-known/openid-configuration`` unless given. Errors reaching
    Strongroom propagate as :class:`strongroom.errors.StrongroomError`
    (the integrations answer 503): an unconfirmed session is never accepted.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        max_staleness: float = 5.0,
        max_cached_tokens: int = 10_000,
        leeway: float = 5.0,
        jwks_max_age: float = 300.0,
        jwks_refetch_cooldown: float = 1.0,
    ) -> None:
        self.client = client
        self.audience = audience
        self.issuer = issuer
        self.max_staleness = max_staleness
        self.leeway = leeway
        self.jwks_max_age = jwks_max_age
        self.jwks_refetch_cooldown = jwks_refetch_cooldown
        self._sessions: StaleCache[Introspection] = StaleCache(max_staleness, max_cached_tokens)
        self._permissions: StaleCache[Me] = StaleCache(max_staleness, max_cached_tokens)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_fetched_at: float | None = None
        self._last_miss_at: float | None = None
        self._lock = AsyncLock()
        #: How many times the JWKS was downloaded and tokens introspected (for operators and tests).
        self.jwks_fetches = 0
        self.introspections = 0

    async def verify(self, token: str) -> AuthenticatedUser:
        """The user behind ``token``: signature, ``iss``, ``aud`` and lifetime
        checked locally, the session confirmed live within ``max_staleness``."""
        kid = signing_key_id(token)
        key = await self._signing_key(kid)
        issuer, audience = await self._expected_issuer_and_audience()
        claims = decode_claims(token, key, issuer=issuer, audience=audience, leeway=self.leeway)
        answer = await self._introspect(token)
        if not answer.active:
            raise TokenRejected("inactive")
        if answer.token_type not in (None, "access_token"):
            raise TokenRejected("not_a_user")
        if answer.sub is not None and answer.sub != claims.get("sub"):
            raise TokenRejected("subject_mismatch")
        return AuthenticatedUser.from_introspection(answer, claims, token)

    async def permissions(self, user: AuthenticatedUser) -> Me:
        """What ``user`` may do (``GET /v1/users/me`` asked *with the user's
        own token*, so the server's policies decide, not a copy of them here),
        reused for ``max_staleness`` seconds like the session."""
        digest = _digest(user.token)
        cached = self._permissions.get(digest)
        if cached is not None:
            return cached
        asked_at = monotonic()
        try:
            response = await self.client._transport.request(
                "GET", "/v1/users/me", headers={"Authorization": f"Bearer {user.token}"}, authenticated=False
            )
        except Unauthenticated:
            self.forget(user.token)
            raise TokenRejected("inactive") from None
        me = Me.from_json(response.json())
        self._permissions.put(digest, me, asked_at)
        return me

    def forget(self, token: str) -> None:
        """Drops what is remembered about ``token`` (e.g. after the
        application logged it out itself), so the next use asks again."""
        digest = _digest(token)
        self._sessions.forget(digest)
        self._permissions.forget(digest)

    @property
    def known_key_ids(self) -> frozenset[str]:
        """The key ids of the JWKS as last fetched."""
        return frozenset(self._keys)

    async def _introspect(self, token: str) -> Introspection:
        digest = _digest(token)
        cached = self._sessions.get(digest)
        if cached is not None:
            return cached
        asked_at = monotonic()
        self.introspections += 1
        answer = await self.client.auth.introspect(token)
        # Inactive answers are remembered too: a logged-out client retrying
        # in a loop must not turn into an introspection per request.
        self._sessions.put(digest, answer, asked_at)
        return answer

    async def _signing_key(self, kid: str) -> jwt.PyJWK:
        fetched_at = self._keys_fetched_at
        key = self._keys.get(kid)
        if key is not None and fetched_at is not None and monotonic() - fetched_at < self.jwks_max_age:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            fresh = self._keys_fetched_at is not None and monotonic() - self._keys_fetched_at < self.jwks_max_age
            if key is not None and fresh:
                return key
            recently_missed = (
                self._last_miss_at is not None and monotonic() - self._last_miss_at < self.jwks_refetch_cooldown
            )
            if fresh and recently_missed:
                raise TokenRejected("unknown_key_id")
            self._keys = parse_jwks(await self.client.auth.jwks())
            self._keys_fetched_at = monotonic()
            self.jwks_fetches += 1
            key = self._keys.get(kid)
            if key is None:
                self._last_miss_at = self._keys_fetched_at
                raise TokenRejected("unknown_key_id")
            return key

    async def _expected_issuer_and_audience(self) -> tuple[str, str]:
        if self.issuer is None:
            discovery: dict[str, Any] = await self.client.auth.openid_configuration()
            self.issuer = str(discovery["issuer"])
        return self.issuer, self.audience or self.issuer


def _digest(token: str) -> str:
    """Cache keys are digests, so the caches hold no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
