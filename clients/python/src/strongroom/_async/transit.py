"""Transit: encryption as a service under named keys that never leave the
server (Vault-compatible paths), and data keys for envelope encryption."""

from __future__ import annotations

import base64
from typing import Any

from ..models import DataKey
from ._transport import AsyncTransport

__all__ = ["AsyncTransit"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class AsyncTransit:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def _data(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # Transit calls change nothing on the server but its audit log, so
        # they are safe to send again after a dropped connection.
        answer = await self._transport.request("POST", path, json=body, idempotent=True)
        data: dict[str, Any] = answer.json()["data"]
        return data

    async def create_key(self, name: str, *, key_type: str = "aes256-gcm96", **options: Any) -> None:
        await self._transport.request("POST", f"/v1/transit/keys/{name}", json={"type": key_type, **options})

    async def read_key(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self._transport.request("GET", f"/v1/transit/keys/{name}")).json()["data"]
        return data

    async def rotate_key(self, name: str) -> None:
        await self._transport.request("POST", f"/v1/transit/keys/{name}/rotate")

    async def encrypt(self, key: str, plaintext: bytes, *, context: bytes | None = None) -> str:
        """``vault:vN:…`` ciphertext of ``plaintext``; ``context`` binds it
        (the same context is needed to decrypt)."""
        body: dict[str, Any] = {"plaintext": _b64(plaintext)}
        if context is not None:
            body["context"] = _b64(context)
        return str((await self._data(f"/v1/transit/encrypt/{key}", body))["ciphertext"])

    async def decrypt(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        body: dict[str, Any] = {"ciphertext": ciphertext}
        if context is not None:
            body["context"] = _b64(context)
        return base64.b64decode((await self._data(f"/v1/transit/decrypt/{key}", body))["plaintext"])

    async def datakey(self, key: str, *, bits: int = 256, context: bytes | None = None) -> DataKey:
        """A new random data key, returned both in plaintext and wrapped
        under ``key``; store only the wrapped one."""
        body: dict[str, Any] = {"bits": bits}
        if context is not None:
            body["context"] = _b64(context)
        return DataKey.from_vault(await self._data(f"/v1/transit/datakey/plaintext/{key}", body))

    async def unwrap_datakey(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        """The plaintext of a data key stored wrapped (a transit decrypt)."""
        return await self.decrypt(key, ciphertext, context=context)
