# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Roles: built-in ones and the operators' own, named sets of actions
(docs/authorization.md, "Roles as data"). Reading them needs
``role.assign``; defining them ``policy.manage`` (admins only)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from .._paths import path
from ..admin_models import Role
from ._transport import Transport

__all__ = ["Roles"]


class Roles:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self) -> builtins.list[Role]:
        body = (self._transport.request("GET", "/v1/roles")).json()
        return [Role.from_json(r) for r in body["roles"]]

    def get(self, name: str) -> Role:
        return Role.from_json((self._transport.request("GET", path("/v1/roles/{}", name))).json())

    def create(self, name: str, *, permissions: Sequence[str], justification: str, description: str = "") -> Role:
        body = {
            "name": name,
            "permissions": list(permissions),
            "justification": justification,
            "description": description,
        }
        return Role.from_json((self._transport.request("POST", "/v1/roles", json=body)).json())

    def replace(
        self, name: str, *, permissions: Sequence[str], justification: str, description: str = ""
    ) -> Role:
        """Replaces an API-defined role's description and permissions."""
        body = {"permissions": list(permissions), "justification": justification, "description": description}
        return Role.from_json((self._transport.request("PUT", path("/v1/roles/{}", name), json=body)).json())

    def delete(self, name: str, *, justification: str) -> None:
        self._transport.request("DELETE", path("/v1/roles/{}", name), json={"justification": justification})
