# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Records: values checked against their collection's schema, encrypted
fields sealed under a per-record key (docs/records.md). Reads give the
caller's view; only :meth:`Records.decrypt` reveals plaintext, and it is
audited as a reveal with the reason given."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

from .._paths import path
from ..record_models import ExportedRecord, Record, SubjectErasure
from ._transport import Transport

__all__ = ["Records"]


class Records:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(
        self,
        collection: str,
        *,
        matter: str,
        fields: dict[str, Any],
        subject: str | None = None,
        ttl: int | None = None,
    ) -> Record:
        """Creates a record in ``matter`` (the caller needs a grant on it).
        ``subject`` (the data subject, e.g. a user id) is kept only as an
        HMAC, for subject export and erasure; ``ttl`` is seconds to live."""
        body: dict[str, Any] = {"matter": matter, "fields": fields}
        if subject is not None:
            body["subject"] = subject
        if ttl is not None:
            body["ttl"] = ttl
        # Not retried: a lost answer after the record was stored would store it twice.
        answer = self._transport.request("POST", path("/v1/collections/{}/records", collection), json=body)
        return Record.from_json(answer.json())

    def get(self, collection: str, id: str) -> Record:
        """The caller's view (never plaintext of an encrypted field); audited as ``record.read``."""
        return Record.from_json(
            (self._transport.request("GET", path("/v1/collections/{}/records/{}", collection, id))).json()
        )

    def update(self, collection: str, id: str, fields: dict[str, Any]) -> Record:
        """Changes the given fields (``None`` removes an optional one)."""
        answer = self._transport.request(
            "PATCH", path("/v1/collections/{}/records/{}", collection, id), json={"fields": fields}
        )
        return Record.from_json(answer.json())

    def delete(self, collection: str, id: str) -> None:
        """Crypto-shreds the record (its data key is destroyed); a record on
        legal hold raises :class:`strongroom.errors.Conflict`."""
        self._transport.request("DELETE", path("/v1/collections/{}/records/{}", collection, id))

    def decrypt(
        self, collection: str, id: str, fields: builtins.list[str], *, reason: str, purpose: str | None = None
    ) -> dict[str, Any]:
        """The plaintext of encrypted ``fields``, by name. ``reason`` (20+
        characters) is recorded permanently with the reveal; ``purpose`` is
        a code from the server's ``authz.purposes`` when it has them."""
        body: dict[str, Any] = {"fields": fields, "reason": reason}
        if purpose is not None:
            body["purpose"] = purpose
        # Not retried: every reveal is an audited event of its own.
        answer = self._transport.request(
            "POST", path("/v1/collections/{}/records/{}/decrypt", collection, id), json=body
        )
        decrypted: dict[str, Any] = answer.json()["decrypted_fields"]
        return decrypted

    def hold(self, collection: str, id: str, *, justification: str, hold: bool = True) -> Record:
        """Puts the record on legal hold (``hold=False`` lifts it): it is not
        deleted, expired or erased with its subject meanwhile."""
        answer = self._transport.request(
            "POST",
            path("/v1/collections/{}/records/{}/hold", collection, id),
            json={"hold": hold, "justification": justification},
        )
        return Record.from_json(answer.json())

    def list(
        self,
        collection: str,
        *,
        matter: str | None = None,
        where: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Record]:
        """Every record the caller may read, oldest first, fetched a page at a
        time (``limit`` records per page, at most 200) by following
        ``next_cursor``. ``where="field:value"`` is equality on a public field
        or an exact match on a searchable encrypted one."""
        cursor: str | None = None
        while True:
            params = {"matter": matter, "where": where, "limit": limit, "cursor": cursor}
            page = (
                self._transport.request("GET", path("/v1/collections/{}/records", collection), params=params)
            ).json()
            for item in page["records"]:
                yield Record.from_json(item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def export_subject(
        self, subject: str, *, justification: str, purpose: str | None = None
    ) -> builtins.list[ExportedRecord]:
        """Every live record created with ``subject``, across collections and
        matters, decrypted (a data subject's access request). Admins; audited
        as ``subject.export`` with the justification."""
        body: dict[str, Any] = {"justification": justification}
        if purpose is not None:
            body["purpose"] = purpose
        answer = self._transport.request("POST", path("/v1/subjects/{}/export", subject), json=body)
        return [ExportedRecord.from_json(r) for r in answer.json()["records"]]

    def erase_subject(self, subject: str, *, justification: str) -> SubjectErasure:
        """Crypto-shreds every record of ``subject`` except those on legal
        hold, and says which were erased and which are held."""
        answer = self._transport.request(
            "POST", path("/v1/subjects/{}/erase", subject), json={"justification": justification}
        )
        return SubjectErasure.from_json(answer.json())
