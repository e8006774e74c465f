"""The logging handler ships events in order and never drops one silently."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from strongroom import Client
from strongroom.logging import Dropped, StrongroomAuditHandler
from strongroom.testing import LocalServer


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"test.audit.{threading.get_ident()}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_many_events_arrive_in_the_log_in_order(server: LocalServer, logger: logging.Logger) -> None:
    dropped: list[Dropped] = []
    handler = StrongroomAuditHandler(
        url=server.url,
        api_key=server.api_key("audit:write"),
        batch_size=40,
        flush_interval=0.05,
        on_drop=dropped.append,
    )
    logger.addHandler(handler)
    for n in range(250):
        logger.info("export %d", n, extra={"audit": {"type": "app.export.done", "details": {"n": n}}})
        if n % 100 == 0:
            logger.info("an ordinary log line, not an audit event")
    logger.warning("refund", extra={"audit": {"type": "app.refund", "target": {"kind": "order", "id": "o-1"}}})
    assert handler.drain(timeout=30)
    handler.close()
    assert handler.sent == 251 and not dropped and not handler.dropped

    with Client(server.url, api_key=server.api_key("audit:read")) as reader:
        events = list(reader.audit.events(action="app.export.*", limit=100))
        refund = next(reader.audit.events(action="app.refund"))
    # Newest first: reversed, they are the order the application logged them in.
    assert [e.event["details"]["n"] for e in reversed(events)] == list(range(250))
    first = events[-1].event
    assert first["details"]["message"] == "export 0" and first["details"]["logged_at"].endswith("Z")
    assert first["severity"] == "info" and first["actor"]["kind"] == "api_key"
    assert refund.event["severity"] == "warning" and refund.event["target"] == {"kind": "order", "id": "o-1"}


def test_overflow_and_undeliverable_events_are_reported_not_dropped_silently(logger: logging.Logger) -> None:
    dropped: list[Dropped] = []
    # Nothing listens: every batch waits for a server that never comes.
    handler = StrongroomAuditHandler(
        url=f"http://127.0.0.1:{unused_port()}",
        api_key="sr_nobody_nothing",
        batch_size=5,
        capacity=10,
        flush_interval=0.01,
        close_timeout=0.5,
        on_drop=dropped.append,
    )
    logger.addHandler(handler)
    for n in range(25):
        logger.info("event %d", n, extra={"audit": "app.burst"})
    overflowed = [d for d in dropped if d.reason == "overflow"]
    assert len(overflowed) == 15 and handler.dropped["overflow"] == 15
    assert [d.events[0]["details"]["message"] for d in overflowed] == [f"event {n}" for n in range(10, 25)]
    logger.removeHandler(handler)
    handler.close()
    # The ten the buffer held are reported at close, with the connection error.
    unsent = [e for d in dropped if d.reason == "unsent_at_close" for e in d.events]
    assert len(unsent) == 10 and handler.dropped["unsent_at_close"] == 10 and handler.sent == 0
    assert sorted(e["details"]["message"] for e in unsent) == sorted(f"event {n}" for n in range(10))


def test_refused_events_are_reported_and_the_rest_of_their_batch_is_delivered(
    server: LocalServer, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    dropped: list[Dropped] = []
    handler = StrongroomAuditHandler(
        url=server.url, api_key=server.api_key("audit:write"), batch_size=10, flush_interval=5, on_drop=dropped.append
    )
    logger.addHandler(handler)
    logger.info("fine", extra={"audit": "app.ok"})
    logger.info("bad severity", extra={"audit": {"type": "app.ok", "severity": "apocalyptic"}})
    logger.info("fine too", extra={"audit": "app.ok"})
    # Strongroom's own types cannot be written, nor values JSON cannot carry: refused before they are sent.
    logger.info("forged", extra={"audit": "record.decrypt"})
    logger.info("odd", extra={"audit": {"type": "app.ok", "details": {"when": datetime.now(tz=timezone.utc)}}})
    assert handler.drain(timeout=30)
    assert handler.sent == 2 and handler.dropped == {"refused": 3}
    server_refusal = next(d for d in dropped if d.error is not None and getattr(d.error, "status", None) == 400)
    assert server_refusal.events[0]["severity"] == "apocalyptic"
    logger.removeHandler(handler)
    handler.close()

    # Without a callback the report goes to standard error.
    quiet = StrongroomAuditHandler(url=server.url, api_key=server.api_key("audit:write"))
    logger.addHandler(quiet)
    logger.info("forged", extra={"audit": "user.delete"})
    logger.removeHandler(quiet)
    quiet.close()
    assert "events dropped (1 refused)" in capsys.readouterr().err


def test_with_block_seconds_a_full_buffer_makes_the_caller_wait_instead_of_dropping(
    server: LocalServer, logger: logging.Logger
) -> None:
    dropped: list[Dropped] = []
    handler = StrongroomAuditHandler(
        url=server.url,
        api_key=server.api_key("audit:write"),
        batch_size=5,
        capacity=5,
        flush_interval=0.01,
        block_seconds=30,
        on_drop=dropped.append,
    )
    logger.addHandler(handler)
    for n in range(60):
        logger.info("event %d", n, extra={"audit": {"type": "app.backpressure", "details": {"n": n}}})
    assert handler.drain(timeout=30)
    logger.removeHandler(handler)
    handler.close()
    assert handler.sent == 60 and not dropped
