"""The audit log's answers: events, proofs, statistics and alerts (docs/audit.md)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ._model import Model

__all__ = ["Alert", "AuditEvent", "AuditStats", "ConsistencyProof", "InclusionProof"]


@dataclass(frozen=True)
class AuditEvent(Model):
    """One logged event: ``event`` is the entry as logged (``type``,
    ``actor``, ``target``, ``result``, ``details``…), ``index`` its leaf."""

    index: int
    time: str
    event: dict[str, Any]
    leaf_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))


@dataclass(frozen=True)
class InclusionProof(Model):
    """RFC 9162 inclusion proof; hashes are base64 as the server sends them
    (:attr:`path` decodes them)."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    inclusion_path: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> list[bytes]:
        return [base64.b64decode(h) for h in self.inclusion_path]


@dataclass(frozen=True)
class ConsistencyProof(Model):
    """RFC 9162 consistency proof between tree sizes ``from_`` (``from`` on the wire) and ``to``."""

    to: int
    from_root: str
    to_root: str
    consistency_path: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def from_(self) -> int:
        return int(self.extra["from"])

    @property
    def path(self) -> list[bytes]:
        return [base64.b64decode(h) for h in self.consistency_path]


@dataclass(frozen=True)
class AuditStats(Model):
    """``GET /v1/audit/stats``: counts, the newest checkpoint and a full
    integrity check of the stored log (``integrity["verified"]``)."""

    total_events: int
    root_hash: str
    per_action: dict[str, int] = field(default_factory=dict)
    failures_last_24h: int = 0
    # {"hour": unix seconds, "events": n, "failures": n}, oldest first.
    per_hour_last_24h: tuple[dict[str, int], ...] = ()
    latest_checkpoint: dict[str, Any] | None = None
    integrity: dict[str, Any] = field(default_factory=dict)
    health_problems: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return bool(self.integrity.get("verified"))


@dataclass(frozen=True)
class Alert(Model):
    """A raised alert (a rule matched events, e.g. repeated reveals)."""

    id: str
    rule: str
    group_key: str = ""
    count: int = 0
    raised_at: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
