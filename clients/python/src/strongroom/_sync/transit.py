# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Transit: encryption as a service under named keys that never leave the
server (Vault-compatible paths), and data keys for envelope encryption."""

from __future__ import annotations

import base64
import builtins
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .._paths import path
from ..errors import TransitBatchError
from ..models import DataKey
from ._transport import Transport

__all__ = ["Transit"]

T = TypeVar("T")


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
        self._transport.request("POST", path("/v1/transit/keys/{}", name), json={"type": key_type, **options})

    def read_key(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = (self._transport.request("GET", path("/v1/transit/keys/{}", name))).json()["data"]
        return data

    def rotate_key(self, name: str) -> None:
        self._transport.request("POST", path("/v1/transit/keys/{}/rotate", name))

    def encrypt(self, key: str, plaintext: bytes, *, context: bytes | None = None) -> str:
        """``vault:vN:…`` ciphertext of ``plaintext``; ``context`` binds it
        (the same context is needed to decrypt)."""
        body: dict[str, Any] = {"plaintext": _b64(plaintext)}
        if context is not None:
            body["context"] = _b64(context)
        return str((self._data(path("/v1/transit/encrypt/{}", key), body))["ciphertext"])

    def decrypt(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        body: dict[str, Any] = {"ciphertext": ciphertext}
        if context is not None:
            body["context"] = _b64(context)
        return base64.b64decode((self._data(path("/v1/transit/decrypt/{}", key), body))["plaintext"])

    def datakey(self, key: str, *, bits: int = 256, context: bytes | None = None) -> DataKey:
        """A new random data key, returned both in plaintext and wrapped
        under ``key``; store only the wrapped one."""
        body: dict[str, Any] = {"bits": bits}
        if context is not None:
            body["context"] = _b64(context)
        return DataKey.from_vault(self._data(path("/v1/transit/datakey/plaintext/{}", key), body))

    def unwrap_datakey(self, key: str, ciphertext: str, *, context: bytes | None = None) -> bytes:
        """The plaintext of a data key stored wrapped (a transit decrypt)."""
        return self.decrypt(key, ciphertext, context=context)

    def list_keys(self) -> builtins.list[str]:
        """The transit keys' names (``transit:manage``)."""
        answer = self._transport.request("GET", "/v1/transit/keys", params={"list": True})
        return [str(name) for name in answer.json()["data"]["keys"]]

    def configure_key(
        self,
        name: str,
        *,
        min_decryption_version: int | None = None,
        deletion_allowed: bool | None = None,
        auto_rotate_period: int | str | None = None,
    ) -> None:
        """Changes what is given; ``auto_rotate_period`` in seconds or ``"24h"`` (0 turns it off)."""
        given = {
            "min_decryption_version": min_decryption_version,
            "deletion_allowed": deletion_allowed,
            "auto_rotate_period": auto_rotate_period,
        }
        body = {k: v for k, v in given.items() if v is not None}
        self._transport.request("POST", path("/v1/transit/keys/{}/config", name), json=body)

    def delete_key(self, name: str) -> None:
        """Deletes a key configured with ``deletion_allowed``: what it protected is unreadable for good."""
        self._transport.request("DELETE", path("/v1/transit/keys/{}", name))

    def rewrap(self, key: str, ciphertext: str, *, context: bytes | None = None) -> str:
        """``ciphertext`` under the key's latest version; the plaintext never leaves the server."""
        body: dict[str, Any] = {"ciphertext": ciphertext}
        if context is not None:
            body["context"] = _b64(context)
        return str((self._data(path("/v1/transit/rewrap/{}", key), body))["ciphertext"])

    def hmac(self, key: str, data: bytes) -> str:
        """HMAC-SHA256 of ``data`` under ``key``, as ``vault:vN:…``."""
        return str((self._data(path("/v1/transit/hmac/{}", key), {"input": _b64(data)}))["hmac"])

    def verify_hmac(self, key: str, data: bytes, hmac: str) -> bool:
        answer = self._data(path("/v1/transit/verify/{}", key), {"input": _b64(data), "hmac": hmac})
        return bool(answer["valid"])

    def sign(self, key: str, data: bytes) -> str:
        """An Ed25519 signature of ``data`` by ``key`` (an ``ed25519`` key), as ``vault:vN:…``."""
        return str((self._data(path("/v1/transit/sign/{}", key), {"input": _b64(data)}))["signature"])

    def verify_signature(self, key: str, data: bytes, signature: str) -> bool:
        answer = self._data(path("/v1/transit/verify/{}", key), {"input": _b64(data), "signature": signature})
        return bool(answer["valid"])

    def encrypt_many(
        self, key: str, plaintexts: Sequence[bytes], *, context: bytes | None = None
    ) -> builtins.list[str]:
        """Ciphertexts of up to 1,000 ``plaintexts`` in one call, in order.
        Items fail one by one on the server; if any did,
        :class:`strongroom.errors.TransitBatchError` says which (and carries the rest)."""
        items = [_item("plaintext", _b64(p), context) for p in plaintexts]
        return self._batch(path("/v1/transit/encrypt/{}", key), items, "ciphertext", str)

    def decrypt_many(
        self, key: str, ciphertexts: Sequence[str], *, context: bytes | None = None
    ) -> builtins.list[bytes]:
        """Plaintexts of up to 1,000 ``ciphertexts`` in one call, in order
        (:class:`strongroom.errors.TransitBatchError` names the items that failed)."""
        items = [_item("ciphertext", c, context) for c in ciphertexts]
        return self._batch(path("/v1/transit/decrypt/{}", key), items, "plaintext", base64.b64decode)

    def _batch(
        self, path: str, items: builtins.list[dict[str, str]], member: str, convert: Callable[[str], T]
    ) -> builtins.list[T]:
        data = self._data(path, {"batch_input": items})
        results = data["batch_results"]
        errors = {i: str(r["error"]) for i, r in enumerate(results) if r.get("error")}
        if errors:
            raise TransitBatchError(
                errors, [None if i in errors else convert(r[member]) for i, r in enumerate(results)]
            )
        return [convert(r[member]) for r in results]


def _item(name: str, value: str, context: bytes | None) -> dict[str, str]:
    item = {name: value}
    if context is not None:
        item["context"] = _b64(context)
    return item
