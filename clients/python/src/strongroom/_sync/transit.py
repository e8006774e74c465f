# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Transit: encryption as a service under named keys that never leave the
server (Vault-compatible paths), and data keys for envelope encryption."""

from __future__ import annotations

import base64
from typing import Any

from ..models import DataKey
from ._transport import Transport

__all__ = ["Transit"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Transit:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _data(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # Transit calls change nothing on the server but its audit log, so
        # they are safe to send again after a dropped connection.
        answer = self._transport.request("POST", path, json=body, idempotent=True)
        data: dict[str, Any] = answer.json()["data"]
        return data

    def create_key(self, name: str, *, key_type: str = "aes256-gcm96", **options: Any) -> None:
        self._transport.request("POST", f"/v1/transit/keys/{name}", json={"type": key_type, **options})

    def read_key(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = (self._transport.request("GET", f"/v1/transit/keys/{name}")).json()["data"]
        return data

    def rotate_key(self, name: str) -> None:
        self._transport.request("POST", f"/v1/transit/keys/{name}/rotate")

    def encrypt(self, key: str, plaintext: bytes, *, context: bytes | None = None) -> str:
        """``vault:vN:…`` ciphertext of ``plaintext``; ``context`` binds it
        (the same context is needed to decrypt)."""
        body: dict[str, Any] = {"plaintext": _b64(plaintext)}
        if context is not None:
            body["context"] = _b64(context)
        return str((self._data(f"/v1/transit/encrypt/{key}", body))["ciphertext"])

    def decrypt(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        body: dict[str, Any] = {"ciphertext": ciphertext}
        if context is not None:
            body["context"] = _b64(context)
        return base64.b64decode((self._data(f"/v1/transit/decrypt/{key}", body))["plaintext"])

    def datakey(self, key: str, *, bits: int = 256, context: bytes | None = None) -> DataKey:
        """A new random data key, returned both in plaintext and wrapped
        under ``key``; store only the wrapped one."""
        body: dict[str, Any] = {"bits": bits}
        if context is not None:
            body["context"] = _b64(context)
        return DataKey.from_vault(self._data(f"/v1/transit/datakey/plaintext/{key}", body))

    def unwrap_datakey(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        """The plaintext of a data key stored wrapped (a transit decrypt)."""
        return self.decrypt(key, ciphertext, context=context)
