"""Blobs: files of any size in a record's ``blob`` fields, streamed both ways
so neither the client nor the server ever holds one whole (docs/records.md).

Uploads take a path, an open binary file, ``bytes`` or an iterator of
chunks; downloads go to a path or a file, or come as an iterator, whole or a
byte range. Downloading a blob of an encrypted field is a reveal: it needs a
``reason`` (20+ characters) and, when the server has purpose codes, a
``purpose``, sent as ``X-Justification``/``X-Purpose``.
"""

from __future__ import annotations

import collections.abc
import hashlib
import mimetypes
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, Any

import httpx

from .._paths import path
from ..blob_models import Blob, BlobDownload
from ..errors import BlobIntegrityError
from ._transport import AsyncTransport

__all__ = ["AsyncBlobs"]

#: Read size for files: one sealed segment on the server is 64 KiB.
CHUNK_BYTES = 64 * 1024

#: What an upload reads from: a path, an open binary file, bytes, or chunks
#: (the async client takes async iterators too).
Stream = str | os.PathLike[str] | IO[bytes] | collections.abc.Iterable[bytes] | AsyncIterable[bytes]
BlobSource = bytes | Stream
#: Where a download writes to: a path or an open binary file.
BlobTarget = str | os.PathLike[str] | IO[bytes]


def _path(collection: str, id: str, field: str) -> str:
    return path("/v1/collections/{}/records/{}/blobs/{}", collection, id, field)


async def _chunks(source: Stream) -> AsyncIterator[bytes]:
    """The source, read a chunk at a time (never whole). A file is read in
    chunks, not iterated: iterating a binary file yields "lines"."""
    given: Any = source  # narrowed by hand: files are iterable too
    if isinstance(given, (str, os.PathLike)):
        with open(given, "rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk
    elif hasattr(given, "read"):
        while chunk := given.read(CHUNK_BYTES):
            yield bytes(chunk)
    elif isinstance(given, AsyncIterable):
        async for part in given:
            yield bytes(part)
    else:
        for part in given:
            yield bytes(part)


def _range_header(start: int | None, end: int | None) -> str | None:
    """``Range`` for the Python slice ``[start:end]``; a negative ``start``
    alone is the last ``-start`` bytes."""
    if start is None and end is None:
        return None
    if start is not None and start < 0:
        if end is not None:
            raise ValueError("a negative start (the last bytes) takes no end")
        return f"bytes=-{-start}"
    first = start or 0
    if end is None:
        return f"bytes={first}-"
    if end <= first:
        raise ValueError("end must be greater than start")
    return f"bytes={first}-{end - 1}"


def _reveal(reason: str | None, purpose: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The justification and purpose as headers, or as the query parameters
    the server also reads when they are not plain ASCII (HTTP headers are)."""
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    for header, param, value in (("X-Justification", "reason", reason), ("X-Purpose", "purpose", purpose)):
        if value is None:
            continue
        if value.isascii() and value.isprintable():
            headers[header] = value
        else:
            params[param] = value
    return headers, params


class AsyncBlobs:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def upload(
        self,
        collection: str,
        id: str,
        field: str,
        source: BlobSource,
        *,
        content_type: str | None = None,
    ) -> Blob:
        """Stores ``source`` in the blob field ``field`` of record ``id``,
        replacing an earlier one. ``content_type`` defaults to the guess for a
        path's name, else ``application/octet-stream``. Only ``bytes`` are
        retried after a dropped connection: a stream cannot be replayed."""
        if content_type is None:
            guessed = mimetypes.guess_type(os.fspath(source))[0] if isinstance(source, (str, os.PathLike)) else None
            content_type = guessed or "application/octet-stream"
        content: bytes | AsyncIterator[bytes] = source if isinstance(source, bytes) else _chunks(source)
        async with self._transport.stream(
            "PUT", _path(collection, id, field), content=content, headers={"Content-Type": content_type}
        ) as response:
            await response.aread()
            return Blob.from_json(response.json())

    @asynccontextmanager
    async def _open(
        self,
        collection: str,
        id: str,
        field: str,
        reason: str | None,
        purpose: str | None,
        start: int | None,
        end: int | None,
    ) -> AsyncIterator[tuple[httpx.Response, BlobDownload]]:
        headers, params = _reveal(reason, purpose)
        wanted = _range_header(start, end)
        if wanted is not None:
            headers["Range"] = wanted
        async with self._transport.stream(
            "GET", _path(collection, id, field), params=params, headers=headers
        ) as response:
            yield response, BlobDownload.from_headers(response.status_code, response.headers)

    async def iter_download(
        self,
        collection: str,
        id: str,
        field: str,
        *,
        reason: str | None = None,
        purpose: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> AsyncIterator[bytes]:
        """The blob's bytes (``[start:end]`` of it), chunk by chunk as they
        arrive. A whole blob is checked against its SHA-256 at the end
        (:class:`BlobIntegrityError`). Stopping early holds the connection
        until the iterator is closed (``contextlib.closing``/``aclosing``)."""
        async with self._open(collection, id, field, reason, purpose, start, end) as (response, meta):
            async for chunk in _checked(response, meta):
                yield chunk

    async def download(
        self,
        collection: str,
        id: str,
        field: str,
        to: BlobTarget,
        *,
        reason: str | None = None,
        purpose: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> BlobDownload:
        """Writes the blob (``[start:end]`` of it) to the path or binary file
        ``to``, a chunk at a time, and says what was written. A path is
        written only once the download is complete (a failure leaves it as
        it was)."""
        async with self._open(collection, id, field, reason, purpose, start, end) as (response, meta):
            if isinstance(to, (str, os.PathLike)):
                # Into a file beside the target, renamed over it once complete and
                # checked: a failed download leaves neither half a file nor a
                # clobbered earlier one.
                target = Path(to)
                fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as file:
                        async for chunk in _checked(response, meta):
                            file.write(chunk)
                    os.replace(part, target)
                except BaseException:
                    with suppress(OSError):
                        os.unlink(part)
                    raise
            else:
                async for chunk in _checked(response, meta):
                    to.write(chunk)
            return meta

    async def read(
        self,
        collection: str,
        id: str,
        field: str,
        *,
        reason: str | None = None,
        purpose: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> bytes:
        """The blob (``[start:end]`` of it) in memory: for small ones."""
        parts: list[bytes] = []
        async with self._open(collection, id, field, reason, purpose, start, end) as (response, meta):
            async for chunk in _checked(response, meta):
                parts.append(chunk)
        return b"".join(parts)


async def _checked(response: httpx.Response, meta: BlobDownload) -> AsyncIterator[bytes]:
    """The answer's bytes; for a whole blob, hashed on the way and compared
    with the SHA-256 the server stored, so a cut or altered transfer raises."""
    digest = None if meta.partial or not meta.sha256 else hashlib.sha256()
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if digest is not None:
            digest.update(chunk)
        yield chunk
    if received != meta.length:
        raise BlobIntegrityError(f"received {received} of {meta.length} bytes")
    if digest is not None and digest.hexdigest() != meta.sha256:
        raise BlobIntegrityError("the blob does not match the SHA-256 stored with it")
