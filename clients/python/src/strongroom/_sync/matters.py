# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Matters and grants: data access is given per matter, to a user or an API
key, on top of what its role allows (docs/authorization.md). Managing them
needs ``matter.manage`` (API-key scope ``matters:manage``)."""

from __future__ import annotations

import builtins
from typing import Any

from .._paths import path
from ..record_models import Grant, Matter
from ._transport import Transport

__all__ = ["Matters"]


class Matters:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(self, name: str, *, id: str | None = None) -> Matter:
        """A new matter labelled ``name``; ``id`` (``A-Z a-z 0-9 . _ -``) is
        generated when not given."""
        body: dict[str, Any] = {"name": name}
        if id is not None:
            body["id"] = id
        return Matter.from_json((self._transport.request("POST", "/v1/matters", json=body)).json())

    def get(self, id: str) -> Matter:
        return Matter.from_json((self._transport.request("GET", path("/v1/matters/{}", id))).json())

    def list(self) -> builtins.list[Matter]:
        """Every matter for those who manage them; else those the caller holds a grant on."""
        body = (self._transport.request("GET", "/v1/matters")).json()
        return [Matter.from_json(m) for m in body["matters"]]

    def grants(self, matter: str) -> builtins.list[Grant]:
        body = (self._transport.request("GET", path("/v1/matters/{}/grants", matter))).json()
        return [Grant.from_json(g) for g in body["grants"]]

    def grant(self, matter: str, principal: str, *, justification: str) -> Grant:
        """Gives ``principal`` (``user:<id>`` or ``api_key:<id>``) access to
        the matter's data, within its role; ``justification`` (20+
        characters) is audited."""
        answer = self._transport.request(
            "POST", path("/v1/matters/{}/grants", matter), json={"principal": principal, "justification": justification}
        )
        return Grant.from_json(answer.json())

    def revoke(self, matter: str, principal: str, *, justification: str) -> None:
        """Takes the grant away; audited with ``justification``."""
        self._transport.request(
            "DELETE",
            path("/v1/matters/{}/grants/{}", matter, principal),
            json={"justification": justification},
        )
