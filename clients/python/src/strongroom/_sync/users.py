# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Users and their sessions (docs/identity.md). Managing users needs
``user.manage`` (API-key scope ``users:manage``); giving roles needs
``role.assign`` (``roles:assign``) and never above the caller's own."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from .._paths import path
from ..admin_models import PasswordReset, Session, User
from ._transport import Transport

__all__ = ["Sessions", "Users"]


class Users:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self) -> builtins.list[User]:
        body = (self._transport.request("GET", "/v1/users")).json()
        return [User.from_json(u) for u in body["users"]]

    def get(self, id: str) -> User:
        return User.from_json((self._transport.request("GET", path("/v1/users/{}", id))).json())

    def create(
        self,
        username: str,
        *,
        email: str,
        roles: Sequence[str],
        password: str | None = None,
        password_hash: str | None = None,
        full_name: str = "",
    ) -> User:
        """A new user. Give a ``password`` (the server's policy applies), a
        ``password_hash`` imported from another system, or neither and issue
        a reset token (:meth:`issue_password_reset`) for them to choose one."""
        body: dict[str, Any] = {"username": username, "email": email, "roles": list(roles), "full_name": full_name}
        if password is not None:
            body["password"] = password
        if password_hash is not None:
            body["password_hash"] = password_hash
        return User.from_json((self._transport.request("POST", "/v1/users", json=body)).json())

    def update(
        self, id: str, *, email: str | None = None, full_name: str | None = None, disabled: bool | None = None
    ) -> User:
        """Changes what is given; ``disabled=True`` also ends every session."""
        body = {
            k: v for k, v in {"email": email, "full_name": full_name, "disabled": disabled}.items() if v is not None
        }
        return User.from_json((self._transport.request("PATCH", path("/v1/users/{}", id), json=body)).json())

    def set_roles(self, id: str, roles: Sequence[str], *, justification: str) -> User:
        answer = self._transport.request(
            "POST", path("/v1/users/{}/roles", id), json={"roles": list(roles), "justification": justification}
        )
        return User.from_json(answer.json())

    def lock(self, id: str, *, reason: str | None = None, revoke_api_keys: bool = False) -> User:
        """No login, and every session ends; ``reason`` goes to the audit log.
        The user's API keys stop while the lock lasts; ``revoke_api_keys``
        revokes them for good (incident response in one call)."""
        body: dict[str, object] = {"reason": reason} if reason is not None else {}
        if revoke_api_keys:
            body["revoke_api_keys"] = True
        return User.from_json((self._transport.request("POST", path("/v1/users/{}/lock", id), json=body)).json())

    def unlock(self, id: str) -> User:
        return User.from_json((self._transport.request("POST", path("/v1/users/{}/unlock", id))).json())

    def revoke_sessions(self, id: str) -> dict[str, int]:
        """Ends every session of the user at once (incident response):
        ``{"revoked": sessions, "revoked_api_keys": keys}``."""
        body: dict[str, int] = (self._transport.request("POST", path("/v1/users/{}/revoke-sessions", id))).json()
        return body

    def issue_password_reset(self, id: str) -> PasswordReset:
        """A single-use reset token, shown once."""
        return PasswordReset.from_json(
            (self._transport.request("POST", path("/v1/users/{}/reset-password", id))).json()
        )

    def issue_mfa_enrollment(self, id: str) -> str:
        """A single-use token with which the user enrols a second factor."""
        body = (self._transport.request("POST", path("/v1/users/{}/mfa-enrollment", id))).json()
        return str(body["enrollment_token"])


class Sessions:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self, *, user: str | None = None) -> builtins.list[Session]:
        """The caller's live sessions; admins may name another ``user`` (id or username)."""
        body = (self._transport.request("GET", "/v1/sessions", params={"user": user})).json()
        return [Session.from_json(s) for s in body["sessions"]]

    def revoke(self, id: str) -> None:
        """Ends one session: one's own, or anyone's for admins."""
        self._transport.request("DELETE", path("/v1/sessions/{}", id))
