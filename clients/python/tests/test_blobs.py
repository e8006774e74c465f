"""Blobs streamed up and down through the client, whole and by range, against a real server."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from strongroom import AsyncClient, Client, Tokens
from strongroom.errors import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    RangeNotSatisfiable,
    Unauthenticated,
    UnsupportedMediaType,
)
from strongroom.models import Blob
from strongroom.testing import LocalServer

from .conftest import ADMIN_PASSWORD

REASON = "transcription worker: job 42 needs the recording's audio"

FIELDS = [
    {"name": "title", "type": "string", "sensitivity": "public"},
    {"name": "audio", "type": "blob", "sensitivity": "secret", "content_types": ["audio/*"]},
    {"name": "cover", "type": "blob", "sensitivity": "public"},
    {"name": "clip", "type": "blob", "sensitivity": "secret", "max_bytes": 100_000},
]


def setup(server: LocalServer) -> tuple[str, str]:
    """A key that manages collections and matters, reveals, and holds a grant
    on ``m-1`` (as its creator); and the id of a record in ``calls``."""
    key = server.api_key("collections:manage", "matters:manage", "records:decrypt")
    with Client(server.url, api_key=key) as client:
        client.collections.create("calls", fields=FIELDS)
        client.matters.create("Matter one", id="m-1")
        record = client.records.create("calls", matter="m-1", fields={"title": "call 1"})
    return key, record.id


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_uploads_from_a_path_a_file_bytes_and_an_iterator_and_downloads_whole_and_by_range(
    server: LocalServer, tmp_path: Path
) -> None:
    key, record = setup(server)
    audio = os.urandom(300_000)  # several 64 KiB segments
    path = tmp_path / "call.wav"
    path.write_bytes(audio)
    with Client(server.url, api_key=key) as client:
        stored = client.blobs.upload("calls", record, "audio", path)
        assert isinstance(stored, Blob) and stored.size == len(audio) and stored.content_type == "audio/x-wav"
        assert stored.sha256 == hashlib.sha256(audio).hexdigest()

        # Down to a path, a file, an iterator; the whole blob is checked against its SHA-256.
        out = tmp_path / "out.wav"
        meta = client.blobs.download("calls", record, "audio", out, reason=REASON, purpose="case_work")
        assert out.read_bytes() == audio and not meta.partial and meta.size == len(audio)
        sink = io.BytesIO()
        client.blobs.download("calls", record, "audio", sink, reason=REASON, purpose="case_work")
        assert sink.getvalue() == audio
        assert (
            b"".join(client.blobs.iter_download("calls", record, "audio", reason=REASON, purpose="case_work")) == audio
        )

        # Ranges, Python-slice style: [start:end], [start:], and the last n bytes.
        assert (
            client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work", start=70_000, end=140_001)
            == audio[70_000:140_001]
        )
        assert (
            client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work", start=299_990)
            == audio[299_990:]
        )
        assert client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work", start=-5) == audio[-5:]
        ranged = io.BytesIO()
        part = client.blobs.download(
            "calls", record, "audio", ranged, reason=REASON, purpose="case_work", start=10, end=20
        )
        assert part.partial and (part.start, part.end, part.size) == (10, 20, len(audio))
        assert ranged.getvalue() == audio[10:20]
        with pytest.raises(RangeNotSatisfiable) as outside:
            client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work", start=len(audio) + 10)
        assert outside.value.status == 416 and outside.value.request_id

        # An open file, bytes, and a generator (streamed: never one body in memory).
        with path.open("rb") as file:
            assert client.blobs.upload("calls", record, "audio", file, content_type="audio/wav").size == len(audio)
        assert client.blobs.upload("calls", record, "cover", b"\x89PNG...", content_type="image/png").size == 7
        assert client.blobs.read("calls", record, "cover") == b"\x89PNG..."
        again = client.blobs.upload("calls", record, "audio", chunks(audio, 10_000), content_type="audio/ogg")
        assert again.sha256 == stored.sha256 and again.content_type == "audio/ogg"
        assert client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work") == audio


def test_refusals_are_exceptions(server: LocalServer, tmp_path: Path) -> None:
    key, record = setup(server)
    with Client(server.url, api_key=key) as client:
        client.blobs.upload("calls", record, "audio", b"RIFF....", content_type="audio/wav")
        with pytest.raises(UnsupportedMediaType) as wrong_type:
            client.blobs.upload("calls", record, "audio", b"%PDF", content_type="application/pdf")
        assert wrong_type.value.code == "unsupported_media_type"
        with pytest.raises(NotFound):
            client.blobs.upload("calls", record, "title", b"not a blob field", content_type="text/plain")
        # Refused as soon as the limit is crossed, streamed or not.
        with pytest.raises(PayloadTooLarge):
            client.blobs.upload("calls", record, "clip", chunks(os.urandom(1_000_000), 65_536))
        with pytest.raises(PayloadTooLarge):
            client.blobs.upload("calls", record, "clip", os.urandom(100_001))
        # A secret blob is a reveal: no justification, no bytes, and the file named is left as it was.
        target = tmp_path / "earlier.wav"
        target.write_bytes(b"an earlier download")
        with pytest.raises(ProblemError) as no_reason:
            client.blobs.download("calls", record, "audio", target)
        assert no_reason.value.status in (400, 403) and no_reason.value.code != "internal"
        assert target.read_bytes() == b"an earlier download" and [p.name for p in tmp_path.iterdir()] == [target.name]
    # A key without records:decrypt cannot reveal it, whatever it says.
    other = server.api_key("transit:use", name="other")
    with Client(server.url, api_key=key) as admin:
        admin.matters.grant("m-1", "api_key:" + other.split("_")[1], justification="the other key may read m-1 data")
    with Client(server.url, api_key=other) as client, pytest.raises(Forbidden):
        client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work")


def test_the_async_client_streams_from_an_async_iterator(server: LocalServer) -> None:
    key, record = setup(server)
    audio = os.urandom(200_000)

    async def produce() -> AsyncIterator[bytes]:
        for chunk in chunks(audio, 32_768):
            await asyncio.sleep(0)
            yield chunk

    async def run() -> tuple[Blob, bytes, bytes]:
        async with AsyncClient(server.url, api_key=key) as client:
            stored = await client.blobs.upload("calls", record, "audio", produce(), content_type="audio/flac")
            whole = b"".join(
                [
                    c
                    async for c in client.blobs.iter_download(
                        "calls", record, "audio", reason=REASON, purpose="case_work"
                    )
                ]
            )
            tail = await client.blobs.read("calls", record, "audio", reason=REASON, purpose="case_work", start=-1000)
            return stored, whole, tail

    stored, whole, tail = asyncio.run(run())
    assert stored.size == len(audio) and whole == audio and tail == audio[-1000:]


def test_a_streamed_upload_is_never_sent_again_after_a_token_refresh(server: LocalServer) -> None:
    """A 401 makes the client refresh the user's tokens and retry, but a
    stream cannot be replayed: the retry would send what is left of it (an
    empty or truncated blob), so the 401 is raised instead."""
    server.init(ADMIN_PASSWORD)
    with Client(server.url) as admin:
        admin.auth.login("admin", ADMIN_PASSWORD)
        admin.collections.create("calls", fields=FIELDS)
        admin.matters.create("Matter one", id="m-1")
        record = admin.records.create("calls", matter="m-1", fields={"title": "call 1"})
        session = Client(server.url).auth.login("admin", ADMIN_PASSWORD)
    # An access token the server no longer takes, with a good refresh token.
    stale = Tokens(access_token="not-a-token", refresh_token=session.refresh_token, expires_at=time.time() + 600)
    with Client(server.url, tokens=stale) as client:
        with pytest.raises(Unauthenticated):
            client.blobs.upload("calls", record.id, "cover", chunks(b"x" * 200_000, 10_000), content_type="image/png")
        # The next call renews the tokens and is sent again: bytes can be.
        assert client.blobs.upload("calls", record.id, "cover", b"png", content_type="image/png").size == 3
        assert client.blobs.read("calls", record.id, "cover") == b"png"
