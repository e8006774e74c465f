"""A record, a blob and an audit proof, end to end, with the package's public API only.

    STRONGROOM_BIN=target/debug/strongroom python clients/python/examples/record_blob_proof.py
    STRONGROOM_URL=https://… STRONGROOM_API_KEY=sr_… STRONGROOM_AUDIT_KEY='<origin>+<id>+<key>' python …

Against a running server the key needs the scopes ``collections:manage``,
``matters:manage``, ``records:decrypt``, ``audit:write`` and ``audit:read``,
and ``STRONGROOM_AUDIT_KEY`` is the verifier key your operator pinned (the
line of ``GET /v1/audit/public-key``). Without ``STRONGROOM_URL`` a throwaway
server is started and its key read once, then pinned.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

import httpx

from strongroom import Client
from strongroom.audit_proof import AuditProofError, VerifierKey, verify_checkpoint
from strongroom.testing import LocalServer

WHY = "example run: checking the client end to end"


def run(url: str, api_key: str, pinned: VerifierKey) -> None:
    suffix = uuid.uuid4().hex[:8]
    collection, matter = f"example_calls_{suffix}", f"example-{suffix}"
    with Client(url, api_key=api_key) as client:
        client.collections.create(
            collection,
            fields=[
                {"name": "caller", "type": "string", "sensitivity": "secret", "searchable": True},
                {"name": "audio", "type": "blob", "sensitivity": "secret", "content_types": ["audio/*"]},
            ],
        )
        client.matters.create("Example matter", id=matter)  # its creator holds a grant on it

        record = client.records.create(collection, matter=matter, fields={"caller": "Ada Lovelace"})
        assert "caller" in client.records.get(collection, record.id).withheld_fields
        revealed = client.records.decrypt(collection, record.id, ["caller"], reason=WHY, purpose="case_work")
        assert revealed == {"caller": "Ada Lovelace"}
        assert [r.id for r in client.records.list(collection, where="caller:ada lovelace")] == [record.id]
        print(f"record {record.id} written, found through its blind index and revealed")

        with tempfile.TemporaryDirectory() as tmp:
            audio = os.urandom(1_000_000)
            source, copy = Path(tmp) / "call.wav", Path(tmp) / "copy.wav"
            source.write_bytes(audio)
            blob = client.blobs.upload(collection, record.id, "audio", source)
            client.blobs.download(collection, record.id, "audio", copy, reason=WHY, purpose="case_work")
            assert copy.read_bytes() == audio and blob.sha256 == hashlib.sha256(audio).hexdigest()
            middle = client.blobs.read(
                collection, record.id, "audio", reason=WHY, purpose="case_work", start=500_000, end=500_100
            )
            assert middle == audio[500_000:500_100]
        print(f"blob of {blob.size} bytes streamed up and down, and a range of it")

        logged = client.audit.log("app.example.finished", target=("record", record.id), details={"blob": blob.sha256})
        proof = client.audit.prove(logged.first_index, pinned)
        assert proof.event["type"] == "app.example.finished"
        print(f"event {proof.index} proven in the tree of {proof.checkpoint.size} signed by {pinned.name}")
        later = client.audit.prove_consistency(proof.checkpoint, pinned)
        print(f"the log of {later.size} entries extends the checkpoint of {proof.checkpoint.size}")
        try:
            verify_checkpoint(proof.checkpoint.note.replace(f"\n{proof.checkpoint.size}\n", "\n1\n", 1), pinned)
        except AuditProofError as refused:
            print(f"a tampered checkpoint is refused: {refused}")
        else:
            raise SystemExit("a tampered checkpoint verified")


def main() -> None:
    if os.environ.get("STRONGROOM_URL"):
        pinned = VerifierKey.parse(os.environ["STRONGROOM_AUDIT_KEY"])
        run(os.environ["STRONGROOM_URL"], os.environ["STRONGROOM_API_KEY"], pinned)
        return
    with LocalServer() as server:
        scopes = ("collections:manage", "matters:manage", "records:decrypt", "audit:write", "audit:read")
        pinned = VerifierKey.parse(httpx.get(f"{server.url}/v1/audit/public-key").text.splitlines()[0])
        run(server.url, server.api_key(*scopes), pinned)


if __name__ == "__main__":
    main()
