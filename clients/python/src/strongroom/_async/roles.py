"""Roles: built-in ones and the operators' own, named sets of actions
(docs/authorization.md, "Roles as data"). Reading them needs
``role.assign``; defining them ``policy.manage`` (admins only)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from .._paths import path
from ..admin_models import Role
from ._transport import AsyncTransport

__all__ = ["AsyncRoles"]


class AsyncRoles:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def list(self) -> builtins.list[Role]:
        body = (await self._transport.request("GET", "/v1/roles")).json()
        return [Role.from_json(r) for r in body["roles"]]

    async def get(self, name: str) -> Role:
        return Role.from_json((await self._transport.request("GET", path("/v1/roles/{}", name))).json())

    async def create(self, name: str, *, permissions: Sequence[str], justification: str, description: str = "") -> Role:
        body = {
            "name": name,
            "permissions": list(permissions),
            "justification": justification,
            "description": description,
        }
        return Role.from_json((await self._transport.request("POST", "/v1/roles", json=body)).json())

    async def replace(
        self, name: str, *, permissions: Sequence[str], justification: str, description: str = ""
    ) -> Role:
        """Replaces an API-defined role's description and permissions."""
        body = {"permissions": list(permissions), "justification": justification, "description": description}
        return Role.from_json((await self._transport.request("PUT", path("/v1/roles/{}", name), json=body)).json())

    async def delete(self, name: str, *, justification: str) -> None:
        await self._transport.request("DELETE", path("/v1/roles/{}", name), json={"justification": justification})
