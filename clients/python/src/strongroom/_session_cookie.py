"""The session cookie: the session's record id with an HMAC under the
application's own secret, so a cookie can only name a session this
application created (a guessed or swapped id is ignored before Strongroom is
asked). The id alone reveals nothing: the session's data is in Strongroom."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign_session_id", "unsign_session_id"]


def _mac(secret: str | bytes, session_id: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, b"strongroom-session\x00" + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_session_id(secret: str | bytes, session_id: str) -> str:
    return f"{session_id}.{_mac(secret, session_id)}"


def unsign_session_id(secret: str | bytes, cookie: str | None) -> str | None:
    """The session id in ``cookie`` if its HMAC checks out, else ``None``."""
    if not cookie:
        return None
    session_id, _, mac = cookie.rpartition(".")
    if not session_id or not hmac.compare_digest(mac, _mac(secret, session_id)):
        return None
    return session_id
