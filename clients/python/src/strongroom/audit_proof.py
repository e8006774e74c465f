"""Checking Strongroom's audit log without trusting the server: pure
functions, no I/O.

The log is an RFC 9162 Merkle tree. The server signs checkpoints of it, C2SP
``tlog-checkpoint`` bodies in C2SP signed notes, with an Ed25519 key whose
verifier key (``GET /v1/audit/public-key``, ``<origin>+<hex id>+<base64>``)
you pin once, out of band. With it an application proves that

* a checkpoint was signed by that key (:func:`verify_checkpoint`),
* an event is in the tree a checkpoint commits to (:func:`verify_inclusion`,
  or :func:`verify_event` for the answer of ``GET /v1/audit/events/{index}``),
* a later checkpoint extends an earlier one, so nothing logged before was
  changed or dropped (:func:`verify_consistency`).

Every check raises :class:`AuditProofError` when it fails; nothing returns
"false" that a caller could forget to test. The server's documents:
docs/audit.md ("Checkpoints") and docs/formats.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import StrongroomError

__all__ = [
    "AuditProofError",
    "Checkpoint",
    "VerifiedEvent",
    "VerifierKey",
    "leaf_hash",
    "node_hash",
    "verify_checkpoint",
    "verify_consistency",
    "verify_event",
    "verify_inclusion",
]

#: Limits the server applies too (docs/audit.md): larger notes are refused unread.
MAX_NOTE_BYTES = 1_000_000
MAX_SIGNATURES = 100
MAX_EXTENSIONS = 100
_ED25519 = 0x01
_SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space, as C2SP signed notes write it


class AuditProofError(StrongroomError):
    """A checkpoint, proof or event did not verify: it was altered, signed by
    another key, or does not belong to the tree it claims."""


def _sha256(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash of an entry's exact bytes: ``SHA-256(0x00 || entry)``."""
    return _sha256(b"\x00", entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01", left, right)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise AuditProofError(f"{what}: not base64") from error


@dataclass(frozen=True)
class VerifierKey:
    """A pinned note verifier key: the signer's ``name`` (the log's origin),
    its 4-byte ``key_id`` and the Ed25519 ``public_key``."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """From ``<name>+<hex key id>+<base64(0x01 || public key)>``; the id
        must be the one the key and name hash to."""
        try:
            name, hex_id, encoded = text.strip().split("+", 2)
            key_id = bytes.fromhex(hex_id)
        except ValueError as error:
            raise AuditProofError("verifier key: expected <name>+<hex id>+<base64 key>") from error
        raw = _b64(encoded, "verifier key")
        if len(raw) != 33 or raw[0] != _ED25519:
            raise AuditProofError("verifier key: not an Ed25519 note key")
        if not name or len(key_id) != 4 or _sha256(name.encode(), b"\n", raw)[:4] != key_id:
            raise AuditProofError("verifier key: its id does not match its name and key")
        return cls(name=name, key_id=key_id, public_key=raw[1:])

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the log ``origin`` had ``size`` entries whose
    tree root is ``root_hash``. ``note`` is the signed text, to store and
    compare with a later one (:func:`verify_consistency`)."""

    origin: str
    size: int
    root_hash: bytes
    note: str
    extensions: tuple[str, ...] = ()


def _verifiers(pinned: VerifierKey | str | Iterable[VerifierKey | str]) -> list[VerifierKey]:
    if isinstance(pinned, (VerifierKey, str)):
        pinned = [pinned]
    keys = [k if isinstance(k, VerifierKey) else VerifierKey.parse(k) for k in pinned]
    if not keys:
        raise AuditProofError("no verifier key pinned")
    return keys


def verify_checkpoint(note: str, pinned: VerifierKey | str | Iterable[VerifierKey | str]) -> Checkpoint:
    """Opens a signed checkpoint with the ``pinned`` verifier key(s).

    As Go's ``note.Open`` decides: it counts when a signature by a pinned key
    verifies and no signature line naming a pinned key fails; signatures by
    other keys (witnesses) are ignored."""
    keys = _verifiers(pinned)
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise AuditProofError("checkpoint: over 1,000,000 bytes")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise AuditProofError("checkpoint: not a signed note")
    text, signature_lines = note[: split + 1], note[split + 2 :].splitlines()
    if len(signature_lines) > MAX_SIGNATURES:
        raise AuditProofError("checkpoint: too many signatures")
    verified = False
    for line in signature_lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise AuditProofError("checkpoint: a signature line is malformed")
        signer, _, encoded = line[len(_SIGNATURE_PREFIX) :].rpartition(" ")
        blob = _b64(encoded, "checkpoint signature")
        for key in keys:
            if signer != key.name or blob[:4] != key.key_id:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(key.public_key).verify(blob[4:], text.encode())
            except InvalidSignature as error:
                raise AuditProofError("checkpoint: the pinned key's signature does not verify") from error
            verified = True
    if not verified:
        raise AuditProofError("checkpoint: not signed by a pinned key")
    return _parse_body(text, note, keys)


def _parse_body(text: str, note: str, keys: Sequence[VerifierKey]) -> Checkpoint:
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise AuditProofError("checkpoint: expected origin, size and root hash")
    origin, size_text, root_text, *extensions = lines
    if len(extensions) > MAX_EXTENSIONS:
        raise AuditProofError("checkpoint: too many extension lines")
    if origin not in {key.name for key in keys}:
        raise AuditProofError("checkpoint: of another log than the pinned key's")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise AuditProofError("checkpoint: the tree size is not a decimal number")
    root = _b64(root_text, "checkpoint root hash")
    if len(root) != 32:
        raise AuditProofError("checkpoint: the root hash is not 32 bytes")
    return Checkpoint(origin=origin, size=int(size_text), root_hash=root, note=note, extensions=tuple(extensions))


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """That the leaf hash ``leaf`` is entry ``index`` of the tree of ``size``
    entries with ``root`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise AuditProofError(f"inclusion: index {index} is outside a tree of {size}")
    fn, sn, hashed = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise AuditProofError("inclusion: the path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            hashed = node_hash(sibling, hashed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            hashed = node_hash(hashed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or hashed != root:
        raise AuditProofError(f"inclusion: entry {index} is not in the tree of {size} with that root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> None:
    """That the tree of ``first`` entries (``first_root``) is a prefix of the
    tree of ``second`` entries (``second_root``): nothing logged was changed
    or removed in between (RFC 9162 §2.1.4.2)."""
    if not 0 < first <= second:
        raise AuditProofError(f"consistency: sizes {first} and {second} are not 0 < first <= second")
    if first == second:
        if path or first_root != second_root:
            raise AuditProofError("consistency: equal sizes with different roots")
        return
    nodes = list(path)
    if first & (first - 1) == 0:
        nodes.insert(0, first_root)
    if not nodes:
        raise AuditProofError("consistency: empty proof")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_hash = second_hash = nodes[0]
    for node in nodes[1:]:
        if sn == 0:
            raise AuditProofError("consistency: the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            first_hash = node_hash(node, first_hash)
            second_hash = node_hash(node, second_hash)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second_hash = node_hash(second_hash, node)
        fn >>= 1
        sn >>= 1
    if sn != 0 or first_hash != first_root or second_hash != second_root:
        raise AuditProofError(f"consistency: the tree of {second} does not extend the tree of {first}")


@dataclass(frozen=True)
class VerifiedEvent:
    """An event proven to be in the log: ``event`` is what was logged (parsed
    from ``entry``, the exact leaf bytes) at ``index``, in the tree of the
    signed ``checkpoint``."""

    index: int
    event: dict[str, Any]
    entry: bytes
    checkpoint: Checkpoint


def verify_event(proof: Mapping[str, Any], pinned: VerifierKey | str | Iterable[VerifierKey | str]) -> VerifiedEvent:
    """Checks the answer of ``GET /v1/audit/events/{index}`` end to end: the
    checkpoint's signature, that the inclusion proof is for that
    checkpoint's tree, that the entry's bytes hash to the proven leaf, and
    that the event shown is the entry's."""
    try:
        index = int(proof["index"])
        entry = _b64(str(proof["entry"]), "entry")
        inclusion = proof["inclusion"]
        path = [_b64(str(h), "inclusion path") for h in inclusion["inclusion_path"]]
        note = str(proof["checkpoint"])
        shown = proof["event"]
    except (KeyError, TypeError, ValueError) as error:
        raise AuditProofError(f"event proof: missing or malformed member ({error})") from error
    checkpoint = verify_checkpoint(note, pinned)
    if int(inclusion.get("leaf_index", -1)) != index or int(inclusion.get("tree_size", -1)) != checkpoint.size:
        raise AuditProofError("event proof: the inclusion proof is for another leaf or tree than the checkpoint's")
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, path, checkpoint.root_hash)
    try:
        event = json.loads(entry)
    except ValueError as error:
        raise AuditProofError("event proof: the entry is not JSON") from error
    if not isinstance(event, dict) or event != shown:
        raise AuditProofError("event proof: the event shown is not the entry proven")
    return VerifiedEvent(index=index, event=event, entry=entry, checkpoint=checkpoint)
