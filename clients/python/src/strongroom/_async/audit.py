"""The audit log: the application's own security events written into it
(``POST /v1/audit/events``, scope ``audit:write``), events read back with
filters (scope ``audit:read``), and proofs checked here, against a pinned
verifier key, so the application need not trust the server's word that an
event is logged (:mod:`strongroom.audit_proof`)."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .._paths import path
from ..audit_models import Alert, AuditEvent, AuditStats, ConsistencyProof, InclusionProof
from ..audit_proof import (
    AuditProofError,
    Checkpoint,
    VerifiedEvent,
    VerifierKey,
    verify_checkpoint,
    verify_consistency,
    verify_event,
)
from ..models import LoggedEvents
from ._transport import AsyncTransport

Pinned = VerifierKey | str | Iterable[VerifierKey | str]

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

    async def events(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        matter: str | None = None,
        result: str | None = None,
        since: datetime | int | str | None = None,
        until: datetime | int | str | None = None,
        hmac_of: str | None = None,
        severity: str | None = None,
        min_severity: str | None = None,
        source: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[AuditEvent]:
        """Logged events, newest first, fetched ``limit`` per page (1–1,000)
        by following ``next_cursor``. ``action`` is a type or a family
        (``record.*``); ``result`` ``success``, ``failure`` or ``denied``;
        ``since`` (inclusive) and ``until`` (exclusive) are datetimes, Unix
        milliseconds or RFC 3339; ``hmac_of`` finds events carrying the HMAC of
        a value (a data subject) without the log holding it; ``source`` is
        ``app`` or ``strongroom``."""
        cursor: str | None = None
        while True:
            params = {
                "action": action,
                "actor": actor,
                "target": target,
                "matter": matter,
                "result": result,
                "from": _time(since),
                "to": _time(until),
                "hmac_of": hmac_of,
                "severity": severity,
                "min_severity": min_severity,
                "source": source,
                "limit": limit,
                "cursor": cursor,
            }
            page = (await self._transport.request("GET", "/v1/audit/events", params=params)).json()
            for item in page["events"]:
                yield AuditEvent.from_json(item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def event(self, index: int) -> AuditEvent:
        """Event ``index`` as the server shows it (unverified: see :meth:`prove`)."""
        return AuditEvent.from_json(
            (await self._transport.request("GET", path("/v1/audit/events/{}", int(index)))).json()
        )

    async def prove(self, index: int, verifier: Pinned) -> VerifiedEvent:
        """Proves event ``index`` is in the log: fetches it with its inclusion
        proof and signed checkpoint and checks all three against the pinned
        ``verifier`` key(s). Raises :class:`strongroom.audit_proof.AuditProofError`
        when anything does not verify."""
        proof = (await self._transport.request("GET", path("/v1/audit/events/{}", int(index)))).json()
        return verify_event(proof, verifier)

    async def checkpoint_note(self) -> str:
        """The current signed checkpoint, unverified (a public route)."""
        return (await self._transport.request("GET", "/v1/audit/checkpoint", authenticated=False)).text

    async def checkpoint(self, verifier: Pinned) -> Checkpoint:
        """The current checkpoint, verified against the pinned key(s). Store
        its ``note``: :meth:`prove_consistency` later shows the log only grew."""
        return verify_checkpoint(await self.checkpoint_note(), verifier)

    async def public_keys(self) -> builtins.list[VerifierKey]:
        """The server's verifier keys, newest first. Fetching them proves
        nothing by itself: pin one you obtained from a trusted place (an
        operator, a config file) and pass that to :meth:`prove`."""
        text = (await self._transport.request("GET", "/v1/audit/public-key", authenticated=False)).text
        return [VerifierKey.parse(line) for line in text.splitlines() if line.strip()]

    async def inclusion_proof(self, index: int, *, tree_size: int | None = None) -> InclusionProof:
        params = {"index": index, "tree_size": tree_size}
        return InclusionProof.from_json(
            (await self._transport.request("GET", "/v1/audit/proof/inclusion", params=params)).json()
        )

    async def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``first`` entries is a prefix of the tree of
        ``second`` (default: the current one)."""
        params = {"from": first, "to": second}
        return ConsistencyProof.from_json(
            (await self._transport.request("GET", "/v1/audit/proof/consistency", params=params)).json()
        )

    async def prove_consistency(self, earlier: Checkpoint | str, verifier: Pinned) -> Checkpoint:
        """Proves the log now extends the ``earlier`` checkpoint (a verified
        one, or its stored note): fetches and verifies the current checkpoint
        and a consistency proof between the two. Returns the new checkpoint,
        to store in place of the old."""
        if isinstance(earlier, str):
            earlier = verify_checkpoint(earlier, verifier)
        current = await self.checkpoint(verifier)
        if current.origin != earlier.origin:
            raise AuditProofError("consistency: the checkpoints are of different logs")
        if current.size < earlier.size:
            raise AuditProofError(f"consistency: the log shrank from {earlier.size} to {current.size} entries")
        if current.size == earlier.size:
            verify_consistency(earlier.size, current.size, earlier.root_hash, current.root_hash, [])
            return current
        proof = await self.consistency_proof(earlier.size, current.size)
        verify_consistency(earlier.size, current.size, earlier.root_hash, current.root_hash, proof.path)
        return current

    async def stats(self) -> AuditStats:
        """Counts per action, the newest checkpoint and a full integrity check."""
        return AuditStats.from_json((await self._transport.request("GET", "/v1/audit/stats")).json())

    async def alerts(self) -> builtins.list[Alert]:
        body = (await self._transport.request("GET", "/v1/alerts")).json()
        return [Alert.from_json(a) for a in body["alerts"]]


def _time(value: datetime | int | str | None) -> str | int | None:
    """A filter time as the server reads it: RFC 3339 or Unix milliseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value
