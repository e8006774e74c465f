"""An application proves its events are logged: checkpoints, inclusion and
consistency proofs checked in Python against a pinned key, against a real
server, and every kind of tampering refused."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
from dataclasses import replace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom import AsyncClient, Client
from strongroom.audit_proof import (
    AuditProofError,
    VerifierKey,
    leaf_hash,
    node_hash,
    verify_checkpoint,
    verify_consistency,
    verify_event,
    verify_inclusion,
)
from strongroom.testing import LocalServer


def pinned_key(server: LocalServer) -> VerifierKey:
    """The verifier key as an operator hands it over (here: read once, then pinned)."""
    return VerifierKey.parse(httpx.get(f"{server.url}/v1/audit/public-key").text.splitlines()[0])


def forged_key(name: str) -> tuple[Ed25519PrivateKey, VerifierKey]:
    """A key of the same name that is not the server's."""
    private = Ed25519PrivateKey.generate()
    raw = b"\x01" + private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    return private, VerifierKey.parse(f"{name}+{key_id.hex()}+{base64.b64encode(raw).decode()}")


def test_an_application_proves_its_event_is_logged(server: LocalServer) -> None:
    key = pinned_key(server)
    with Client(server.url, api_key=server.api_key("audit:write", "audit:read")) as client:
        logged = client.audit.log("app.transcript.exported", target=("transcript", "t-1"), details={"format": "docx"})
        proven = client.audit.prove(logged.first_index, key)
        assert proven.index == logged.first_index and proven.event["type"] == "app.transcript.exported"
        assert proven.event["target"] == {"kind": "transcript", "id": "t-1"}
        assert proven.checkpoint.size > logged.first_index and proven.checkpoint.origin == key.name
        # The pinned key may be given as its text, or among several.
        assert client.audit.prove(logged.first_index, str(key)).entry == proven.entry
        assert client.audit.prove(logged.first_index, [forged_key(key.name)[1], key]).index == proven.index
        # The same tree, seen through the events listing.
        listed = next(client.audit.events(action="app.transcript.*"))
        assert listed.index == logged.first_index and listed.type == "app.transcript.exported"
        assert base64.b64decode(listed.leaf_hash) == leaf_hash(proven.entry)


def test_a_tampered_event_proof_or_checkpoint_is_refused(server: LocalServer) -> None:
    key = pinned_key(server)
    api_key = server.api_key("audit:write", "audit:read")
    with Client(server.url, api_key=api_key) as client:
        for n in range(5):
            client.audit.log("app.session_created", details={"n": n})
        logged = client.audit.log("app.payment.refunded", details={"amount_cents": 1200})
        client.audit.log("app.session_created", details={"n": 6})
    # The answer as it came over the wire, to alter it.
    url = f"{server.url}/v1/audit/events/{logged.first_index}"
    proof: dict[str, Any] = httpx.get(url, headers={"X-API-Key": api_key}).json()
    assert verify_event(proof, key).event["details"] == {"amount_cents": 1200}

    def refused(change: Any) -> None:
        altered = copy.deepcopy(proof)
        change(altered)
        with pytest.raises(AuditProofError):
            verify_event(altered, key)

    entry = base64.b64decode(proof["entry"])
    # The entry's bytes (a refund of 12,000 instead of 1,200), and the event shown beside them.
    refused(lambda p: p.update(entry=base64.b64encode(entry.replace(b"1200", b"12000")).decode()))
    refused(lambda p: p["event"]["details"].update(amount_cents=1))
    # The proof: a sibling hash, its length, or another leaf's position.
    path = proof["inclusion"]["inclusion_path"]
    assert path, "a tree of seven or more has a path"
    refused(lambda p: p["inclusion"]["inclusion_path"].__setitem__(0, base64.b64encode(b"\0" * 32).decode()))
    refused(lambda p: p["inclusion"]["inclusion_path"].pop())
    refused(lambda p: p.update(index=p["index"] + 1))
    # The checkpoint: its size or root changed, its signature cut, or signed by another key of the same name.
    note = proof["checkpoint"]
    body, signature = note.split("\n\n", 1)
    origin, size, root = body.split("\n")[:3]
    refused(lambda p: p.update(checkpoint=note.replace(f"\n{size}\n", f"\n{int(size) + 1}\n", 1)))
    refused(lambda p: p.update(checkpoint=note.replace(root, base64.b64encode(b"\1" * 32).decode(), 1)))
    refused(lambda p: p.update(checkpoint=body + "\n\n"))
    private, forged = forged_key(origin)
    forged_signature = base64.b64encode(forged.key_id + private.sign((body + "\n").encode())).decode()
    forged_note = f"{body}\n\n\u2014 {origin} {forged_signature}\n"
    refused(lambda p: p.update(checkpoint=forged_note))
    # A forgery passes only for whoever pins the forger's key: the check is the pinned key, not the server.
    assert verify_checkpoint(forged_note, forged).size == int(size)
    with pytest.raises(AuditProofError):
        verify_checkpoint(note, forged)
    # A bad signature by the pinned key itself is refused even beside a good one.
    bad_line = f"\u2014 {origin} " + base64.b64encode(key.key_id + b"\0" * 64).decode()
    with pytest.raises(AuditProofError):
        verify_checkpoint(note + bad_line + "\n", key)


def test_the_log_only_grows_between_two_checkpoints(server: LocalServer) -> None:
    key = pinned_key(server)
    with Client(server.url, api_key=server.api_key("audit:write", "audit:read")) as client:
        client.audit.log("app.session_created")
        first = client.audit.checkpoint(key)
        for n in range(9):
            client.audit.log("app.session_created", details={"n": n})
        second = client.audit.prove_consistency(first.note, key)
        assert second.size > first.size
        # Nothing changed since: an equal checkpoint is consistent with itself.
        assert client.audit.prove_consistency(second, key).size >= second.size
        # A remembered checkpoint whose root was rewritten is caught.
        with pytest.raises(AuditProofError):
            client.audit.prove_consistency(replace(first, root_hash=hashlib.sha256(b"other").digest()), key)
        proof = client.audit.consistency_proof(first.size, second.size)
        assert proof.from_ == first.size and proof.to == second.size
        verify_consistency(first.size, second.size, first.root_hash, second.root_hash, proof.path)
        with pytest.raises(AuditProofError):
            verify_consistency(first.size, second.size, first.root_hash, second.root_hash, proof.path[:-1])
        with pytest.raises(AuditProofError):
            verify_consistency(first.size, second.size, second.root_hash, second.root_hash, proof.path)

        inclusion = client.audit.inclusion_proof(first.size - 1, tree_size=second.size)
        event = client.audit.event(first.size - 1)
        leaf = base64.b64decode(event.leaf_hash)
        verify_inclusion(leaf, first.size - 1, second.size, inclusion.path, second.root_hash)
        with pytest.raises(AuditProofError):
            verify_inclusion(node_hash(leaf, leaf), first.size - 1, second.size, inclusion.path, second.root_hash)

        stats = client.audit.stats()
        assert stats.total_events >= second.size and stats.verified


def test_a_verifier_key_must_match_its_id_and_the_async_client_proves_too(server: LocalServer) -> None:
    key = pinned_key(server)
    name, key_id, encoded = str(key).split("+", 2)
    with pytest.raises(AuditProofError):
        VerifierKey.parse(f"{name}+{'00' * 4}+{encoded}")
    with pytest.raises(AuditProofError):
        VerifierKey.parse(f"other/{name}+{key_id}+{encoded}")
    api_key = server.api_key("audit:write", "audit:read")

    async def run() -> str:
        async with AsyncClient(server.url, api_key=api_key) as client:
            assert str((await client.audit.public_keys())[0]) == str(key)
            logged = await client.audit.log("app.login_mirrored")
            return str((await client.audit.prove(logged.last_index, key)).event["type"])

    assert asyncio.run(run()) == "app.login_mirrored"
