"""Every test runs against a real `strongroom server` (strongroom.testing.LocalServer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from strongroom.testing import LocalServer

ADMIN_PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as instance:
        yield instance


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalServer]]:
    """Servers with settings: make_server(identity_access_token_seconds=2)."""
    started: list[LocalServer] = []

    def make(**settings: object) -> LocalServer:
        started.append(LocalServer(**settings))
        return started[-1]

    yield make
    for instance in started:
        instance.stop()
