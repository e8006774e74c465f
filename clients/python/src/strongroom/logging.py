"""Ship the application's security events to Strongroom's audit log from
the standard :mod:`logging` machinery.

    import logging
    from strongroom.logging import StrongroomAuditHandler

    handler = StrongroomAuditHandler(url="https://strongroom:8200", api_key=key)  # scope audit:write
    logging.getLogger("myapp.security").addHandler(handler)

    log = logging.getLogger("myapp.security")
    log.info("transcript exported", extra={"audit": {
        "type": "app.transcript.exported", "target": ("transcript", "t-1"), "details": {"format": "docx"},
    }})

**Which records become events.** A record with an ``audit`` attribute (the
``extra={"audit": ...}`` above): a mapping with ``type`` (``app.…``) and
any of ``severity``, ``result``, ``category``, ``target`` (``(kind, id)`` or
``{"kind", "id"}``), ``on_behalf_of``, ``details``, ``hmac_fields``; or just
the type as a string. Records without it are ignored, unless the handler has
a ``default_type``, which every such record is then logged as. ``severity``
defaults from the level (``INFO`` → ``info``, ``WARNING`` → ``warning``,
``ERROR`` and above → ``critical``); the formatted message goes into
``details["message"]`` and the record's time into ``details["logged_at"]``
(the log's own time is when the batch arrives).

**Delivery.** Events wait in a bounded buffer (``capacity``) and a
background thread sends them in order, in batches of up to ``batch_size``,
at least every ``flush_interval`` seconds. A batch the server cannot take
now (unreachable, 429, 5xx) is retried with backoff, in order, until it is
taken: delivery is at least once (an answer lost after the batch was
recorded makes it twice). An event the server refuses (400, naming it) is
taken out and reported, and the rest of its batch is sent. :meth:`flush`
(and :meth:`StrongroomAuditHandler.drain`, which says whether it finished in
time) waits until everything buffered is delivered; :meth:`close` flushes (up to
``close_timeout`` seconds) and stops the thread.

**Nothing is dropped silently.** An event that cannot be delivered, because
the buffer is full (``reason="overflow"``), the server refused it
(``"refused"``), or it was still unsent when the handler closed
(``"unsent_at_close"``), is passed to ``on_drop`` (a :class:`Dropped`) and
counted in :attr:`StrongroomAuditHandler.dropped`. Without ``on_drop`` it is
reported on standard error, at most once a second with the running counts.
With ``block_seconds`` a full buffer makes the logging call wait that long
for room first (back-pressure instead of loss).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ._async.audit import app_event
from ._retry import Retry
from ._sync.client import Client
from .errors import BadRequest, ProblemError, RateLimited, ServerError, TransportError, Unavailable

__all__ = ["Dropped", "StrongroomAuditHandler"]

_SEVERITY_BY_LEVEL = ((logging.ERROR, "critical"), (logging.WARNING, "warning"), (0, "info"))


@dataclass(frozen=True)
class Dropped:
    """Events the handler could not deliver, and why: ``overflow``,
    ``refused`` (``error`` says what the server said) or ``unsent_at_close``."""

    reason: str
    events: tuple[dict[str, Any], ...]
    error: BaseException | None = None


class StrongroomAuditHandler(logging.Handler):
    """A :class:`logging.Handler` that ships audit events in batches (see the module doc)."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        level: int = logging.NOTSET,
        default_type: str | None = None,
        include_message: bool = True,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        capacity: int = 10_000,
        block_seconds: float = 0.0,
        close_timeout: float = 10.0,
        on_drop: Callable[[Dropped], None] | None = None,
        retry: Retry | None = None,
    ) -> None:
        super().__init__(level)
        if client is None:
            if url is None or api_key is None:
                raise ValueError("pass a client, or url and api_key (a key with the scope audit:write)")
            client = Client(url, api_key=api_key)
            self._owns_client = True
        else:
            self._owns_client = False
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size: 1 to 1,000 (the ingestion API's limit)")
        if capacity < batch_size:
            raise ValueError("capacity must hold at least one batch")
        self.client = client
        self.default_type = default_type
        self.include_message = include_message
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.capacity = capacity
        self.block_seconds = block_seconds
        self.close_timeout = close_timeout
        self.on_drop = on_drop
        self.retry = retry or Retry(attempts=1_000_000, base_delay=0.2, max_delay=5.0)
        #: Events delivered, and events dropped by reason: never silent.
        self.sent = 0
        self.dropped: Counter[str] = Counter()
        self._buffer: deque[dict[str, Any]] = deque()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._flush_wanted = False
        self._closing = False
        self._give_up_at = float("inf")
        self._stop = threading.Event()
        self._last_report = 0.0
        self._thread = threading.Thread(target=self._run, name="strongroom-audit-handler", daemon=True)
        self._thread.start()

    # --- logging side -------------------------------------------------------

    def event_for(self, record: logging.LogRecord) -> dict[str, Any] | None:
        """The ingestion event for ``record``, or None when it is not an audit record."""
        audit = getattr(record, "audit", None)
        if audit is None:
            if self.default_type is None:
                return None
            audit = {"type": self.default_type}
        elif isinstance(audit, str):
            audit = {"type": audit}
        elif not isinstance(audit, Mapping):
            raise TypeError("extra={'audit': ...} takes a mapping or an event type")
        fields = dict(audit)
        event_type = str(fields.pop("type", self.default_type or ""))
        details = dict(fields.pop("details", None) or {})
        if self.include_message:
            details.setdefault("message", record.getMessage())
        logged_at = datetime.fromtimestamp(record.created, tz=timezone.utc)
        details.setdefault("logged_at", logged_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        target = fields.pop("target", None)
        if isinstance(target, Mapping):
            target = (str(target["kind"]), str(target["id"]))
        fields.setdefault("severity", next(name for floor, name in _SEVERITY_BY_LEVEL if record.levelno >= floor))
        return app_event(event_type, target=target, details=details, **fields)

    def emit(self, record: logging.LogRecord) -> None:
        # The handler's own HTTP client logs too; shipping those would feed itself.
        if threading.current_thread() is self._thread:
            return
        try:
            event = self.event_for(record)
        except Exception:
            self.handleError(record)
            return
        if event is None:
            return
        if not str(event.get("type", "")).startswith("app."):
            error: Exception = ValueError(f"{event.get('type')!r} is not an application event type (app.…)")
            self._drop(Dropped("refused", (event,), error))
            return
        try:
            # A value JSON cannot carry (a datetime, NaN) is refused here, not in
            # the sender thread; what JSON carries but the log refuses (a float)
            # the server names, and that event alone is taken out of its batch.
            json.dumps(event, allow_nan=False)
        except (TypeError, ValueError) as error:
            self._drop(Dropped("refused", (event,), error))
            return
        dropped = None
        with self._cond:
            if self.block_seconds > 0 and self._full():
                deadline = time.monotonic() + self.block_seconds
                while self._full() and not self._closing and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            if self._closing:
                dropped = Dropped("unsent_at_close", (event,))
            elif self._full():
                dropped = Dropped("overflow", (event,))
            else:
                self._buffer.append(event)
                if len(self._buffer) >= self.batch_size:
                    self._cond.notify_all()
        if dropped is not None:
            self._drop(dropped)

    def _full(self) -> bool:
        return len(self._buffer) + self._in_flight >= self.capacity

    def flush(self) -> None:
        """Sends everything buffered now and waits (up to ``close_timeout``) until it is delivered."""
        self.drain()

    def drain(self, timeout: float | None = None) -> bool:
        """Sends everything buffered now; True once all of it is delivered
        (or reported), False when ``timeout`` (default ``close_timeout``)
        passed first."""
        deadline = time.monotonic() + (self.close_timeout if timeout is None else timeout)
        with self._cond:
            self._flush_wanted = True
            self._cond.notify_all()
            while self._buffer or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Delivers what is buffered (up to ``close_timeout`` seconds), then
        stops; what is still unsent is reported as ``unsent_at_close``."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._give_up_at = time.monotonic() + self.close_timeout
            self._cond.notify_all()
        self._thread.join(self.close_timeout + 1.0)
        self._stop.set()
        self._thread.join(5.0)
        with self._cond:
            left = tuple(self._buffer)
            self._buffer.clear()
        if left:
            self._drop(Dropped("unsent_at_close", left))
        if self._owns_client:
            self.client.close()
        super().close()

    # --- sending side -------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._buffer and not self._closing:
                    self._flush_wanted = False
                    self._cond.notify_all()
                    self._cond.wait()
                deadline = time.monotonic() + self.flush_interval
                while len(self._buffer) < self.batch_size and not (self._closing or self._flush_wanted):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if not self._buffer:
                    self._cond.notify_all()
                    return  # closing, and nothing left
                batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
                self._in_flight = len(batch)
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()
            if self._stop.is_set():
                return

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Sends ``batch`` until it is taken, taking out events the server
        refuses; gives up only when closing and out of time."""
        attempt = 0
        while batch:
            try:
                self.client.audit.log_many(batch)
            except BadRequest as error:
                index = _refused_index(error, len(batch))
                refused = (batch.pop(index),) if index is not None else tuple(batch)
                if index is None:
                    batch = []
                self._drop(Dropped("refused", refused, error))
                continue
            except (TransportError, Unavailable, RateLimited, ServerError) as error:
                # The exponent is capped: an outage of hours must not overflow the backoff.
                delay = self.retry.delay(
                    min(attempt, 32), error.retry_after if isinstance(error, ProblemError) else None
                )
                attempt += 1
                if time.monotonic() + delay > self._give_up_at or self._stop.wait(delay):
                    self._drop(Dropped("unsent_at_close", tuple(batch), error))
                    return
                continue
            except ProblemError as error:
                # 401/403/404…: this key cannot write events; retrying cannot help.
                self._drop(Dropped("refused", tuple(batch), error))
                return
            except Exception as error:
                # Anything else is reported, and the thread lives on for the next batch.
                self._drop(Dropped("refused", tuple(batch), error))
                return
            with self._cond:
                self.sent += len(batch)
            return

    def _drop(self, dropped: Dropped) -> None:
        with self._cond:
            self.dropped[dropped.reason] += len(dropped.events)
        if self.on_drop is not None:
            try:
                self.on_drop(dropped)
            except Exception as error:
                # The callback's own failure must stop neither delivery nor the report.
                # Only counts: the events' details may be personal.
                n, reason = len(dropped.events), dropped.reason
                print(
                    f"strongroom audit handler: on_drop failed ({error!r}) for {n} {reason} event(s)", file=sys.stderr
                )
            return
        now = time.monotonic()
        if now - self._last_report >= 1.0:
            self._last_report = now
            counts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items()))
            cause = f": {dropped.error}" if dropped.error else ""
            print(f"strongroom audit handler: events dropped ({counts}){cause}", file=sys.stderr)


def _refused_index(error: BadRequest, size: int) -> int | None:
    """The index a refusal names (``events[3].type: …``), if it is in the batch."""
    detail = error.detail
    start = detail.find("events[")
    if start < 0:
        return None
    digits = detail[start + 7 : detail.find("]", start)]
    if not digits.isdigit() or int(digits) >= size:
        return None
    return int(digits)
