"""Access requests: elevated, time-bound access to a matter or one record,
decided by someone other than the requester (docs/authorization.md). Under
the ``high_security`` profile a reveal needs one approved
(:class:`strongroom.errors.AccessRequestRequired`)."""

from __future__ import annotations

import builtins
from typing import Any

from .._paths import path
from ..admin_models import AccessRequest
from ._transport import AsyncTransport

__all__ = ["AsyncAccessRequests"]


class AsyncAccessRequests:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def create(
        self,
        action: str,
        matter: str,
        *,
        duration_minutes: int,
        justification: str,
        record: str | None = None,
        purpose: str | None = None,
    ) -> AccessRequest:
        """Asks for ``action`` (``record.read``, ``record.read_redacted``,
        ``record.decrypt``, ``record.export``) on ``matter`` or one ``record``
        of it, for ``duration_minutes`` (1–480) once approved."""
        body: dict[str, Any] = {
            "action": action,
            "matter": matter,
            "duration_minutes": duration_minutes,
            "justification": justification,
        }
        if record is not None:
            body["record"] = record
        if purpose is not None:
            body["purpose"] = purpose
        return AccessRequest.from_json((await self._transport.request("POST", "/v1/access-requests", json=body)).json())

    async def get(self, id: str) -> AccessRequest:
        return AccessRequest.from_json(
            (await self._transport.request("GET", path("/v1/access-requests/{}", id))).json()
        )

    async def list(self) -> builtins.list[AccessRequest]:
        """Newest first: the caller's own, and those the caller may decide."""
        body = (await self._transport.request("GET", "/v1/access-requests")).json()
        return [AccessRequest.from_json(r) for r in body["access_requests"]]

    async def approve(self, id: str, *, note: str | None = None) -> AccessRequest:
        """Approves (not one's own: :class:`strongroom.errors.SelfApproval`)."""
        return await self._decide(id, "approve", note)

    async def deny(self, id: str, *, note: str | None = None) -> AccessRequest:
        return await self._decide(id, "deny", note)

    async def _decide(self, id: str, verdict: str, note: str | None) -> AccessRequest:
        body = {"note": note} if note is not None else {}
        answer = await self._transport.request("POST", path("/v1/access-requests/{}/{}", id, verdict), json=body)
        return AccessRequest.from_json(answer.json())
