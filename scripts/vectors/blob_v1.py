#!/usr/bin/env python3
"""Independent implementation of the SRBLOB v1 format (docs/formats.md) with
Python's `cryptography`. Prints the published vectors, valid and `fail_*` ones,
that the Rust implementation must accept or reject:
    python3 scripts/vectors/blob_v1.py > crates/strongroom-crypto/tests/vectors/blob_v1.txt"""
import hashlib
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def header(segment_size, salt, prefix, wrapped):
    return (b"SRBLOB" + bytes([1, 1]) + struct.pack(">I", segment_size) + salt + prefix
            + struct.pack(">H", len(wrapped)) + wrapped)


def blob_key(dek, salt, head):
    info = b"strongroom/blob/v1" + hashlib.sha256(head).digest()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(dek)


def segments(plaintext, size):
    chunks = [plaintext[i:i + size] for i in range(0, len(plaintext), size)]
    return chunks or [b""]


def seal_segment(key, prefix, index, last, chunk):
    nonce = prefix + struct.pack(">I", index) + bytes([1 if last else 0])
    return AESGCM(key).encrypt(nonce, chunk, None)


def encrypt(dek, plaintext, size, salt, prefix, wrapped, last_flag=True):
    head = header(size, salt, prefix, wrapped)
    key = blob_key(dek, salt, head)
    chunks = segments(plaintext, size)
    sealed = [seal_segment(key, prefix, i, last_flag and i == len(chunks) - 1, c) for i, c in enumerate(chunks)]
    return head, sealed


def emit(name, dek, plaintext, blob, result):
    print(f"name: {name}\ndek: {dek.hex()}\nplaintext: {plaintext.hex()}\nblob: {blob.hex()}\nresult: {result}\n")


if __name__ == "__main__":
    dek = bytes(range(32))
    salt = bytes([0xA5]) * 32
    prefix = bytes([0x5A]) * 7
    wrapped = b"wrapped-dek"
    print("# SRBLOB v1 vectors, made by scripts/vectors/blob_v1.py (an independent implementation).\n")
    cases = [("empty", b"", 16), ("one_partial_segment", b"hello, blob", 16),
             ("two_exact_segments", bytes(range(32)), 16), ("several_segments", bytes(i % 251 for i in range(100)), 32)]
    for name, plaintext, size in cases:
        head, sealed = encrypt(dek, plaintext, size, salt, prefix, wrapped)
        emit(name, dek, plaintext, head + b"".join(sealed), "ok")
    plaintext = bytes(i % 251 for i in range(100))
    head, sealed = encrypt(dek, plaintext, 32, salt, prefix, wrapped)
    emit("fail_truncated_at_segment_boundary", dek, plaintext, head + b"".join(sealed[:-1]), "fail")
    emit("fail_reordered_segments", dek, plaintext, head + sealed[1] + sealed[0] + b"".join(sealed[2:]), "fail")
    emit("fail_trailing_byte", dek, plaintext, head + b"".join(sealed) + b"\x00", "fail")
    head2, no_last = encrypt(dek, plaintext, 32, salt, prefix, wrapped, last_flag=False)
    emit("fail_no_last_flag", dek, plaintext, head2 + b"".join(no_last), "fail")
    other_head, other = encrypt(dek, plaintext, 32, bytes([0x11]) * 32, prefix, wrapped)
    emit("fail_segment_from_another_blob", dek, plaintext, head + other[0] + b"".join(sealed[1:]), "fail")
    # Two full 16-byte segments, then an empty segment flagged last: only the
    # empty blob may end with an empty segment (one encoding per plaintext).
    exact = bytes(range(32))
    head3 = header(16, salt, prefix, wrapped)
    key3 = blob_key(dek, salt, head3)
    segs = [seal_segment(key3, prefix, 0, False, exact[:16]), seal_segment(key3, prefix, 1, False, exact[16:]),
            seal_segment(key3, prefix, 2, True, b"")]
    emit("fail_empty_last_segment_after_data", dek, exact, head3 + b"".join(segs), "fail")
    tampered_head = bytearray(head)
    tampered_head[-1] ^= 1
    emit("fail_header_changed", dek, plaintext, bytes(tampered_head) + b"".join(sealed), "fail")
