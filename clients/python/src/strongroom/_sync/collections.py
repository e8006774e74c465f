# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Collections: the declared schemas records are checked against
(docs/records.md). Anyone authenticated reads them; creating and changing
them needs ``collection.manage`` (API-key scope ``collections:manage``)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from .._paths import path
from ..record_models import Collection
from ._transport import Transport

__all__ = ["Collections"]


def _schema(
    fields: Sequence[Mapping[str, Any]], default_ttl_seconds: int | None, track_access: bool | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"fields": [dict(f) for f in fields]}
    if default_ttl_seconds is not None:
        body["default_ttl_seconds"] = default_ttl_seconds
    if track_access is not None:
        body["track_access"] = track_access
    return body


class Collections:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(
        self,
        name: str,
        *,
        fields: builtins.list[dict[str, Any]],
        default_ttl_seconds: int | None = None,
        track_access: bool | None = None,
    ) -> Collection:
        """Declares a collection. Each field is a dict as the API takes it:
        ``{"name": "email", "type": "string", "sensitivity": "secret",
        "searchable": True}`` (also ``pii``, ``required``, ``max_bytes``,
        ``content_types``)."""
        body = {"name": name, **_schema(fields, default_ttl_seconds, track_access)}
        return Collection.from_json((self._transport.request("POST", "/v1/collections", json=body)).json())

    def get(self, name: str) -> Collection:
        return Collection.from_json((self._transport.request("GET", path("/v1/collections/{}", name))).json())

    def list(self) -> builtins.list[Collection]:
        body = (self._transport.request("GET", "/v1/collections")).json()
        return [Collection.from_json(c) for c in body["collections"]]

    def update(
        self,
        name: str,
        *,
        fields: builtins.list[dict[str, Any]],
        default_ttl_seconds: int | None = None,
        track_access: bool | None = None,
    ) -> Collection:
        """Replaces the schema. Adding optional fields is fine; a change that
        would orphan stored data raises :class:`strongroom.errors.Conflict`."""
        body = _schema(fields, default_ttl_seconds, track_access)
        return Collection.from_json(
            (self._transport.request("PUT", path("/v1/collections/{}", name), json=body)).json()
        )
