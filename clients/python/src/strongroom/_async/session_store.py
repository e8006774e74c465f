"""Encrypted sessions for an application's own users, kept in Strongroom: one
record per session in a collection whose records expire, the session's data
in a ``secret`` field sealed under the record's own key.

What an encrypted Redis session manager does by hand (encrypt the session
before storing it, set a TTL, delete it to log out) is here the record's
life: the data is encrypted at rest by Strongroom, expires with the record's
TTL, and revoking a session crypto-shreds it. Every load is a reveal
(``record.decrypt``), audited with ``reason`` and ``purpose`` like any
other, which is the point for sessions that hold personal data, and the
cost: one call per request that carries a session.

The application's API key needs a grant on ``matter`` and the scope
``records:decrypt``; :meth:`AsyncSessionStore.create_collection` (scope
``collections:manage``) declares the collection once.

This file is the source of truth; ``strongroom/_sync/session_store.py`` is
generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from .client import AsyncClient

__all__ = ["DEFAULT_REASON", "AsyncSessionStore"]

#: Recorded with every load (a reveal needs a reason of 20+ characters).
DEFAULT_REASON = "restore the signed-in user's application session"


class AsyncSessionStore:
    """Sessions as records of ``collection`` in ``matter``, living
    ``ttl_seconds`` from their creation. ``purpose`` is one of the server's
    ``authz.purposes`` (required there unless that list is empty)."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        matter: str,
        purpose: str | None,
        collection: str = "app_sessions",
        ttl_seconds: int = 8 * 3600,
        reason: str = DEFAULT_REASON,
    ) -> None:
        if len(reason) < 20:
            raise ValueError("reason must be at least 20 characters (the server refuses shorter ones)")
        self.client = client
        self.matter = matter
        self.purpose = purpose
        self.collection = collection
        self.ttl_seconds = ttl_seconds
        self.reason = reason

    async def create_collection(self) -> None:
        """Declares the collection (``data``: secret JSON), with
        ``ttl_seconds`` as its default TTL; nothing if it exists already."""
        try:
            await self.client.collections.get(self.collection)
            return
        except NotFound:
            pass
        await self.client.collections.create(
            self.collection,
            fields=[{"name": "data", "type": "json", "sensitivity": "secret", "required": True}],
            default_ttl_seconds=self.ttl_seconds,
        )

    async def create(self, data: dict[str, Any]) -> str:
        """Stores a new session and returns its id (the record's)."""
        record = await self.client.records.create(
            self.collection, matter=self.matter, fields={"data": data}, ttl=self.ttl_seconds
        )
        return record.id

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The session's data, or ``None`` when it expired, was revoked or never was."""
        try:
            fields = await self.client.records.decrypt(
                self.collection, session_id, ["data"], reason=self.reason, purpose=self.purpose
            )
        except NotFound:
            return None
        data = fields.get("data")
        return data if isinstance(data, dict) else None

    async def save(self, session_id: str, data: dict[str, Any]) -> bool:
        """Replaces the session's data; ``False`` when it is gone (expired or revoked)."""
        try:
            await self.client.records.update(self.collection, session_id, {"data": data})
        except NotFound:
            return False
        return True

    async def revoke(self, session_id: str) -> None:
        """Ends the session for good: its record is crypto-shredded. Nothing if it is gone already."""
        try:
            await self.client.records.delete(self.collection, session_id)
        except NotFound:
            return
