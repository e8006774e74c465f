# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""API keys: service credentials ``sr_<id>_<secret>`` with scopes
(docs/identity.md). Managing them needs ``api_key.manage`` (scope
``api_keys:manage``); a key creates keys only with scopes it holds itself."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from .._paths import path
from ..admin_models import ApiKeyInfo, IssuedApiKey
from ._transport import Transport

__all__ = ["ApiKeys"]


class ApiKeys:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self) -> builtins.list[ApiKeyInfo]:
        """Every key, newest first, without secrets."""
        body = (self._transport.request("GET", "/v1/api-keys")).json()
        return [ApiKeyInfo.from_json(k) for k in body["api_keys"]]

    def create(
        self,
        name: str,
        *,
        scopes: Sequence[str],
        expires_in_days: int | None = None,
        allowed_cidrs: Sequence[str] = (),
        rate_limit_per_minute: int | None = None,
        rate_limit_burst: int | None = None,
        owner: str | None = None,
    ) -> IssuedApiKey:
        """A new key; its ``secret`` is in the answer only: store it now.

        ``rate_limit_per_minute`` holds for all instances together;
        ``rate_limit_burst`` is how many requests it may make at once (default:
        a second's worth of the rate). An audit batch of n events counts n.
        """
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        if allowed_cidrs:
            body["allowed_cidrs"] = list(allowed_cidrs)
        if rate_limit_per_minute is not None:
            body["rate_limit_per_minute"] = rate_limit_per_minute
        if rate_limit_burst is not None:
            body["rate_limit_burst"] = rate_limit_burst
        if owner is not None:
            body["owner"] = owner
        return IssuedApiKey.from_json((self._transport.request("POST", "/v1/api-keys", json=body)).json())

    def rotate(self, id: str, *, grace_seconds: int = 0) -> IssuedApiKey:
        """A new secret for key ``id``; the old one keeps working ``grace_seconds`` more."""
        answer = self._transport.request(
            "POST", path("/v1/api-keys/{}/rotate", id), json={"grace_seconds": grace_seconds}
        )
        return IssuedApiKey.from_json(answer.json())

    def revoke(self, id: str) -> None:
        """The key stops working at once."""
        self._transport.request("DELETE", path("/v1/api-keys/{}", id))
