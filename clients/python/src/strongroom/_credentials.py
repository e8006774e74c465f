"""What a client authenticates with: an API key (services, workers) or a
user's token pair (people, refreshed by the client before it expires).

Neither prints its secret: ``repr`` and ``str`` show only what identifies it,
so a credential logged by accident leaks nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiKey", "BearerToken", "Credentials", "Tokens"]

#: Refresh this many seconds before the access token expires, so a request in
#: flight does not carry a token that expires on the way.
REFRESH_LEEWAY_SECONDS = 10.0


@dataclass(frozen=True)
class ApiKey:
    """An API key ``sr_<id>_<secret>``, sent as ``X-API-Key``."""

    key: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def key_id(self) -> str:
        """The public part (``sr_<id>``), safe to log."""
        return "_".join(self.key.split("_")[:2])

    def __repr__(self) -> str:
        return f"ApiKey({self.key_id}_…)"


@dataclass(frozen=True)
class BearerToken:
    """An access token the application already holds (e.g. forwarded from its
    own caller); it is not refreshed."""

    access_token: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def __repr__(self) -> str:
        return "BearerToken(…)"


@dataclass
class Tokens:
    """A user's session: the access token and the single-use refresh token
    that replaces it. The client swaps in the new pair on every refresh."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    session_id: str | None = None

    @classmethod
    def from_answer(cls, body: dict[str, Any], now: float | None = None) -> Tokens:
        """From a ``/v1/auth/login``, ``/v1/auth/mfa``, ``/v1/auth/refresh`` or ``/token`` answer."""
        issued = time.time() if now is None else now
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_at=issued + float(body.get("expires_in", 0)),
            session_id=body.get("session_id"),
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def expiring(self, now: float | None = None) -> bool:
        """True when the access token expires within the leeway."""
        return (time.time() if now is None else now) >= self.expires_at - REFRESH_LEEWAY_SECONDS

    def __repr__(self) -> str:
        return f"Tokens(session_id={self.session_id!r}, expires_at={self.expires_at:.0f})"


Credentials = ApiKey | BearerToken | Tokens
