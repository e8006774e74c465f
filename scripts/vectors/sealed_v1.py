#!/usr/bin/env python3
"""Independent implementation of the SR v1 sealed-value format (docs/formats.md),
written against Python's `cryptography`, used to produce the published vector
that the Rust code must reproduce byte for byte."""
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def encode_context(fields):
    out = b""
    for label, value in fields:
        for part in (label.encode(), value):
            out += struct.pack(">I", len(part)) + part
    return out


def seal(key, key_name, version, nonce, plaintext, fields):
    name = key_name.encode()
    header = b"SR" + bytes([1, 1, len(name)]) + name + struct.pack(">I", version)
    aad = header + encode_context(fields)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


if __name__ == "__main__":
    sealed = seal(b"\x42" * 32, "k", 1, b"\x07" * 12, b"hello",
                  [("collection", b"c"), ("record", b"1"), ("field", b"f")])
    print(sealed.hex())
