"""The user behind a verified access token, as the web integrations hand it
to an application's endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import Introspection

__all__ = ["AuthenticatedUser"]


@dataclass(frozen=True)
class AuthenticatedUser:
    """A caller whose token verified locally and whose session Strongroom
    confirmed (within the verifier's staleness bound).

    ``roles`` and ``matters`` come from that confirmation, not from the
    token's claims, so a role taken away or a grant revoked shows within the
    same bound. ``token`` is the caller's access token, kept so the
    application can call Strongroom *as the user*; it never appears in
    ``repr``.
    """

    id: str
    username: str
    roles: tuple[str, ...]
    matters: tuple[str, ...]
    session: str | None
    claims: dict[str, Any] = field(repr=False, compare=False, hash=False)
    token: str = field(repr=False)

    @classmethod
    def from_introspection(cls, answer: Introspection, claims: dict[str, Any], token: str) -> AuthenticatedUser:
        return cls(
            id=answer.sub or str(claims.get("sub", "")),
            username=answer.username or str(claims.get("preferred_username", "")),
            roles=answer.roles,
            matters=answer.matters,
            session=answer.session or claims.get("sid"),
            claims=claims,
            token=token,
        )

    def has_role(self, *roles: str) -> bool:
        """Whether the user holds at least one of ``roles``."""
        return any(role in self.roles for role in roles)

    def holds_matter(self, matter: str) -> bool:
        """Whether the user holds a grant on ``matter`` (its id)."""
        return matter in self.matters

    @property
    def mfa_time(self) -> int | None:
        """When the session last proved a second factor (Unix seconds), if it did."""
        value = self.claims.get("mfa_time")
        return value if isinstance(value, int) else None
