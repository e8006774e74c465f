"""When a call is tried again: only idempotent calls, only on a connection
error or an answer that says "try later" (502/503/504, 429), with exponential
backoff and jitter, and never longer than the server's ``Retry-After`` asks
beyond ``max_delay``.

A non-idempotent call (creating a record, issuing a key) is never repeated:
the first attempt may have been applied before the connection dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["IDEMPOTENT_METHODS", "RETRYABLE_STATUSES", "Retry"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    """``attempts`` counts the first try; ``Retry(attempts=1)`` never retries."""

    attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 5.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.base_delay * (2**attempt), self.max_delay)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def retry_after_seconds(value: str | None) -> float | None:
    """The ``Retry-After`` header in seconds (the server sends delta-seconds)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
