"""The client's core against a real server: credentials, refresh, errors, retries."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from strongroom import AsyncClient, Client, Retry, Tokens
from strongroom.errors import (
    DecryptionFailed,
    Forbidden,
    InvalidRequest,
    LoginFailed,
    TransportError,
    Unauthenticated,
)
from strongroom.testing import LocalServer

from .conftest import ADMIN_PASSWORD


def test_an_api_key_encrypts_and_decrypts_through_transit(server: LocalServer) -> None:
    with Client(server.url, api_key=server.api_key("transit:manage", "transit:use")) as client:
        client.transit.create_key("transcripts")
        ciphertext = client.transit.encrypt("transcripts", b"privileged words", context=b"case-1")
        assert ciphertext.startswith("vault:v1:")
        assert client.transit.decrypt("transcripts", ciphertext, context=b"case-1") == b"privileged words"
        with pytest.raises(DecryptionFailed) as refused:
            client.transit.decrypt("transcripts", ciphertext, context=b"case-2")
        assert refused.value.code == "decryption_failed" and refused.value.request_id

        key = client.transit.datakey("transcripts")
        assert len(key.plaintext) == 32 and "plaintext" not in repr(key) and key.plaintext.hex() not in repr(key)
        assert client.transit.unwrap_datakey("transcripts", key.ciphertext) == key.plaintext


def test_the_async_client_is_the_same_api(server: LocalServer) -> None:
    key = server.api_key("transit:manage", "transit:use")

    async def run() -> bytes:
        async with AsyncClient(server.url, api_key=key) as client:
            await client.transit.create_key("answers")
            ciphertext = await client.transit.encrypt("answers", b"candidate answer")
            return await client.transit.decrypt("answers", ciphertext)

    assert asyncio.run(run()) == b"candidate answer"


def test_problems_become_exceptions_with_code_and_request_id(server: LocalServer) -> None:
    with Client(server.url, api_key=server.api_key("transit:use")) as client:
        with pytest.raises(Forbidden) as forbidden:
            client.transit.create_key("not-mine")
        assert forbidden.value.status == 403 and forbidden.value.code == "forbidden"
        assert forbidden.value.request_id and forbidden.value.request_id in str(forbidden.value)
    with Client(server.url, api_key="sr_nope_nope") as stranger, pytest.raises(Unauthenticated):
        stranger.transit.encrypt("transcripts", b"x")
    with Client(server.url, api_key=server.api_key("audit:write")) as app, pytest.raises(InvalidRequest) as bad:
        app.audit.log("record.decrypt")
    assert "events[0].type" in bad.value.detail


def test_a_user_logs_in_and_the_client_refreshes_the_tokens_before_they_expire(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(identity_access_token_seconds=12)
    server.init(ADMIN_PASSWORD)
    refreshed: list[Tokens] = []
    with Client(server.url, on_refresh=refreshed.append) as client:
        with pytest.raises(LoginFailed):
            client.auth.login("admin", "wrong password, surely")
        first = client.auth.login("admin", ADMIN_PASSWORD)
        assert client.auth.me().username == "admin"
        # Within the leeway of its expiry, the next call swaps the pair first.
        time.sleep(3)
        me = client.auth.me()
        assert me.username == "admin" and "user.manage" in me.service_permissions and me.may("user.manage")
        assert len(refreshed) == 1 and refreshed[0].access_token != first.access_token
        # The used refresh token is spent: a second use is refused (and ends the session).
        client.auth.logout()
        with pytest.raises(Unauthenticated):
            client.auth.me()
    assert "access_token" not in repr(first) and first.access_token not in repr(first)


def test_idempotent_calls_are_retried_on_connection_errors_and_others_are_not() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with Client(f"http://127.0.0.1:{port}", api_key="sr_a_b", retry=Retry(attempts=3, base_delay=0.2)) as client:
        with pytest.raises(TransportError):
            client.transit.encrypt("k", b"x")
        retried = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(TransportError):
            client.audit.log("app.session_created")
        once = time.monotonic() - started
    # Two waits of 0.1–0.2 s and 0.2–0.4 s for the transit call; none for the ingestion.
    assert retried >= 0.3 and once < 0.3
