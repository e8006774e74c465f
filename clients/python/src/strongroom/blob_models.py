"""What the server says about a blob (docs/records.md, "Blobs")."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._model import Model

__all__ = ["Blob", "BlobDownload"]


@dataclass(frozen=True)
class Blob(Model):
    """A stored blob, as an upload answers: ``size`` bytes of plaintext whose
    SHA-256 is ``sha256`` (hex)."""

    field: str
    size: int
    content_type: str
    sha256: str
    created_at: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class BlobDownload:
    """What a download delivered: bytes ``start`` to ``end`` (exclusive) of a
    blob of ``size`` bytes; ``partial`` for a range."""

    content_type: str
    size: int
    sha256: str
    start: int
    end: int
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start

    @classmethod
    def from_headers(cls, status: int, headers: Mapping[str, str]) -> BlobDownload:
        length = int(headers.get("content-length", "0"))
        sha256 = headers.get("etag", "").strip('"')
        content_type = headers.get("content-type", "application/octet-stream")
        found = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("content-range", "").strip())
        if status == 206 and found:
            first, last, size = (int(g) for g in found.groups())
            return cls(content_type, size, sha256, first, last + 1, True)
        if status == 206:
            # An empty range of an empty blob has no last byte to name.
            return cls(content_type, length, sha256, 0, length, True)
        return cls(content_type, length, sha256, 0, length, False)
