"""The application's own security events, written into Strongroom's
tamper-evident log (``POST /v1/audit/events``, scope ``audit:write``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import LoggedEvents
from ._transport import AsyncTransport

__all__ = ["AsyncAudit", "app_event"]


def app_event(
    type: str,
    *,
    severity: str | None = None,
    result: str | None = None,
    category: str | None = None,
    target: tuple[str, str] | None = None,
    on_behalf_of: str | None = None,
    details: Mapping[str, Any] | None = None,
    hmac_fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One event as the ingestion API takes it. ``type`` must start with
    ``app.``; values named in ``hmac_fields`` are stored only as an HMAC."""
    event: dict[str, Any] = {"type": type}
    if severity is not None:
        event["severity"] = severity
    if result is not None:
        event["result"] = result
    if category is not None:
        event["category"] = category
    if target is not None:
        event["target"] = {"kind": target[0], "id": target[1]}
    if on_behalf_of is not None:
        event["on_behalf_of"] = on_behalf_of
    if details:
        event["details"] = dict(details)
    if hmac_fields:
        event["hmac_fields"] = list(hmac_fields)
    return event


class AsyncAudit:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def log(self, type: str, **fields: Any) -> LoggedEvents:
        """Records one event; returns once it is durable in the log."""
        return await self.log_many([app_event(type, **fields)])

    async def log_many(self, events: Sequence[Mapping[str, Any]]) -> LoggedEvents:
        """Records 1–1,000 events (see :func:`app_event`), all or none."""
        # Not retried: an answer lost after the batch was recorded would
        # record it twice.
        body = (await self._transport.request("POST", "/v1/audit/events", json={"events": list(events)})).json()
        return LoggedEvents(
            count=int(body["count"]), first_index=int(body["first_index"]), last_index=int(body["last_index"])
        )
