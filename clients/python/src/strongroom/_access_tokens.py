"""Local checks of a Strongroom access token: the header, the signature
against the JWKS, and the claims (``iss``, ``aud``, ``exp``, ``nbf``).

Strongroom signs access tokens with Ed25519 (``alg: EdDSA``, ``typ: at+jwt``,
RFC 9068) under a key id from its JWKS. Everything that can be refused
without a network call is refused here, before the introspection that
confirms the session, so a forged or foreign token costs nothing but CPU.
Needs PyJWT (the ``fastapi`` and ``flask`` extras).
"""

from __future__ import annotations

from typing import Any

import jwt

from .errors import StrongroomError

__all__ = ["MAX_TOKEN_BYTES", "TokenRejected", "decode_claims", "parse_jwks", "signing_key_id"]

#: The server refuses larger tokens before looking at them; so do we.
MAX_TOKEN_BYTES = 8192


class TokenRejected(StrongroomError):
    """The caller's token is not acceptable: malformed, forged, expired, for
    another audience, or of a session that has ended. ``reason`` is a short
    code safe to log (never the token)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"access token rejected: {reason}")


def signing_key_id(token: str) -> str:
    """The ``kid`` of a token whose header Strongroom could have written.
    ``none``, ``HS256`` and any other algorithm, a ``crit`` header and a
    ``typ`` other than ``at+jwt`` are refused as the server refuses them."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("too_large")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("malformed") from None
    if header.get("alg") != "EdDSA":
        raise TokenRejected("algorithm")
    if "crit" in header:
        raise TokenRejected("crit_header")
    if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        raise TokenRejected("not_an_access_token")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("no_kid")
    return kid


def parse_jwks(body: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The Ed25519 keys of a JWKS document by ``kid``; other keys are ignored."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in body.get("keys") or ():
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        kid = entry.get("kid")
        if isinstance(kid, str):
            keys[kid] = jwt.PyJWK(entry, algorithm="EdDSA")
    return keys


def decode_claims(token: str, key: jwt.PyJWK, *, issuer: str, audience: str, leeway: float) -> dict[str, Any]:
    """The claims of ``token`` once its signature, issuer, audience and
    lifetime check out; ``leeway`` seconds absorb clock skew."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("expired") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("audience") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("issuer") from None
    except jwt.PyJWTError:
        raise TokenRejected("invalid") from None
    return claims
