"""A second implementation of the audit log's verification, written from the
specifications alone (C2SP signed-note and tlog-checkpoint, RFC 9162 §2.1),
with Python's hashlib and the `cryptography` package. It shares no code with
Strongroom: if both agree, the formats are what the documents say."""
import base64
import hashlib
import json

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha256(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def leaf_hash(entry):
    return sha256(b"\x00", entry)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def parse_verifier_key(text):
    """`<name>+<hex key id>+<base64(0x01 || ed25519 public key)>`."""
    name, key_id, key = text.strip().split("+", 2)
    raw = base64.b64decode(key)
    assert raw[0] == 0x01 and len(raw) == 33, "an Ed25519 note key"
    assert sha256(name.encode(), b"\n", raw).hex()[:8] == key_id, "the key id is SHA-256(name || \\n || key)[:4]"
    return name, bytes.fromhex(key_id), raw[1:]


def open_note(note, verifier):
    """Returns the note text if a signature by `verifier` verifies over it."""
    name, key_id, public = verifier
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :]
    for line in signatures.splitlines():
        assert line.startswith("\u2014 "), line
        signer, blob = line[2:].split(" ")
        blob = base64.b64decode(blob)
        if signer == name and blob[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            return text
    raise AssertionError("no signature by the trusted key")


def parse_checkpoint(text):
    lines = text.split("\n")
    assert lines[-1] == "", "the body ends with a newline"
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    assert len(root) == 32
    return origin, size, root


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162 §2.1.4.2, step by step."""
    if first == second:
        return not path and first_root == second_root
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


@pytest.fixture
def session(server):
    session = requests.Session()
    session.headers["X-API-Key"] = server.api_key("audit:read", "transit:use", "transit:manage")
    session.base = server.url
    return session


def encrypt_some(session, count):
    if session.get(f"{session.base}/v1/transit/keys/orders").status_code == 404:
        session.post(f"{session.base}/v1/transit/keys/orders").raise_for_status()
    for _ in range(count):
        session.post(f"{session.base}/v1/transit/encrypt/orders", json={"plaintext": "aGk="}).raise_for_status()


def signed_checkpoint(session, verifier):
    note = requests.get(f"{session.base}/v1/audit/checkpoint").text
    return parse_checkpoint(open_note(note, verifier))


def test_checkpoints_and_proofs_verify_with_an_independent_implementation(session):
    verifier = parse_verifier_key(requests.get(f"{session.base}/v1/audit/public-key").text.splitlines()[0])
    encrypt_some(session, 3)
    origin, first_size, first_root = signed_checkpoint(session, verifier)
    assert origin == verifier[0]
    encrypt_some(session, 5)
    _, size, root = signed_checkpoint(session, verifier)
    assert size > first_size

    for index in range(size):
        event = session.get(f"{session.base}/v1/audit/events/{index}").json()
        entry = base64.b64decode(event["entry"])
        # The leaf is RFC 8785 canonical JSON: sorted keys, no spaces.
        assert json.dumps(json.loads(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() == entry
        proof = session.get(f"{session.base}/v1/audit/proof/inclusion", params={"index": index, "tree_size": size}).json()
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        assert verify_inclusion(leaf_hash(entry), index, size, path, root), index
        assert not verify_inclusion(leaf_hash(entry + b" "), index, size, path, root)

    proof = session.get(f"{session.base}/v1/audit/proof/consistency", params={"from": first_size, "to": size}).json()
    path = [base64.b64decode(h) for h in proof["consistency_path"]]
    assert verify_consistency(first_size, size, first_root, root, path)
    assert not verify_consistency(first_size, size, root, root, path)


def test_a_checkpoint_changed_by_one_byte_is_refused(session):
    verifier = parse_verifier_key(requests.get(f"{session.base}/v1/audit/public-key").text.splitlines()[0])
    encrypt_some(session, 1)
    note = requests.get(f"{session.base}/v1/audit/checkpoint").text
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    with pytest.raises(Exception):
        open_note("\n".join(lines), verifier)


def tree_root(leaves):
    """RFC 9162 §2.1.1 MTH over the leaf hashes, from the definition."""
    if not leaves:
        return sha256()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def all_events(session, size):
    """Every event below `size`, by index, from the paged listing (newest first)."""
    events, cursor = {}, None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = session.get(f"{session.base}/v1/audit/events", params=params).json()
        for view in page["events"]:
            if view["index"] < size:
                events[view["index"]] = view
        cursor = page.get("next_cursor")
        if not cursor:
            return [events[i] for i in range(size)]


def test_application_events_posted_in_batches_verify_in_the_signed_tree(session, server):
    verifier = parse_verifier_key(requests.get(f"{session.base}/v1/audit/public-key").text.splitlines()[0])
    encrypt_some(session, 1)
    _, first_size, first_root = signed_checkpoint(session, verifier)

    writer = requests.Session()
    writer.headers["X-API-Key"] = server.api_key("audit:write")
    severities = ["info", "notice", "warning", "critical"]
    indexes = []
    for batch in range(10):
        events = [
            {
                "type": "app.transcript.exported" if i % 2 else "app.session_created",
                "category": "export" if i % 2 else "session",
                "severity": severities[i % 4],
                "target": {"kind": "transcript", "id": f"t-{batch}-{i}"},
                "details": {"batch": batch, "n": i, "format": {"kind": "pdf", "pages": [1, 2]}, "email": f"u{i}@example.com"},
                "hmac_fields": ["email"],
            }
            for i in range(100)
        ]
        answer = writer.post(f"{session.base}/v1/audit/events", json={"events": events})
        assert answer.status_code == 201, answer.text
        recorded = answer.json()
        assert recorded["count"] == 100 and recorded["last_index"] == recorded["first_index"] + 99
        indexes.extend(range(recorded["first_index"], recorded["last_index"] + 1))

    # A batch trying one of Strongroom's own types is refused whole.
    forged = [{"type": "app.forgery_probe"}, {"type": "record.decrypt"}, {"type": "app.forgery_probe"}]
    answer = writer.post(f"{session.base}/v1/audit/events", json={"events": forged})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_request", answer.text
    assert "events[1]" in answer.json()["detail"]
    probes = session.get(f"{session.base}/v1/audit/events", params={"action": "app.forgery_probe"}).json()
    assert probes["events"] == [], "nothing of the refused batch is in the log"

    _, size, root = signed_checkpoint(session, verifier)
    assert len(indexes) == 1000 and max(indexes) < size

    # The whole tree, recomputed here from every entry, is the signed root.
    leaves = []
    for view in all_events(session, size):
        entry = json.dumps(view["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        leaf = leaf_hash(entry)
        assert base64.b64decode(view["leaf_hash"]) == leaf, view["index"]
        leaves.append(leaf)
        if view["index"] in indexes:
            event = view["event"]
            assert event["type"].startswith("app.") and event["actor"]["kind"] == "api_key"
            assert "email" not in event["details"] and "detail:email" in event["hmac"]
            assert b"@example.com" not in entry
    assert tree_root(leaves) == root

    # And each application event has its own inclusion proof to that root.
    for index in indexes:
        proof = session.get(f"{session.base}/v1/audit/proof/inclusion", params={"index": index, "tree_size": size}).json()
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        assert verify_inclusion(leaves[index], index, size, path, root), index
    proof = session.get(f"{session.base}/v1/audit/proof/consistency", params={"from": first_size, "to": size}).json()
    path = [base64.b64decode(h) for h in proof["consistency_path"]]
    assert verify_consistency(first_size, size, first_root, root, path)

    # Severity and source filters.
    critical = session.get(
        f"{session.base}/v1/audit/events", params={"source": "app", "severity": "critical", "limit": 1000}
    ).json()["events"]
    assert len(critical) == 250 and all(v["event"]["severity"] == "critical" for v in critical)
    serious = session.get(
        f"{session.base}/v1/audit/events", params={"source": "app", "min_severity": "warning", "limit": 1000}
    ).json()["events"]
    assert len(serious) == 500
    own = session.get(f"{session.base}/v1/audit/events", params={"source": "strongroom", "limit": 1000}).json()["events"]
    assert own and not any(v["event"]["type"].startswith("app.") for v in own)
    found = session.get(f"{session.base}/v1/audit/events", params={"hmac_of": "u7@example.com", "limit": 1000}).json()
    assert len(found["events"]) == 10, "one per batch, found by the HMAC of a value the log never held"
