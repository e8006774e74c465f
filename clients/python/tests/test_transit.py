"""Transit beyond encrypt and decrypt: batches, rewrap, HMAC, signatures, key management."""

from __future__ import annotations

import pytest

from strongroom import Client
from strongroom.errors import KeyNotFound, TransitBatchError
from strongroom.testing import LocalServer


def test_batches_rewrap_hmac_signatures_and_key_management(server: LocalServer) -> None:
    with Client(server.url, api_key=server.api_key("transit:use", "transit:manage")) as client:
        client.transit.create_key("orders")
        client.transit.create_key("releases", key_type="ed25519")
        assert {"orders", "releases"} <= set(client.transit.list_keys())

        values = [f"order {n}".encode() for n in range(50)]
        ciphertexts = client.transit.encrypt_many("orders", values, context=b"tenant-1")
        assert (
            len(ciphertexts) == 50 and client.transit.decrypt_many("orders", ciphertexts, context=b"tenant-1") == values
        )
        with pytest.raises(TransitBatchError) as partly:
            client.transit.decrypt_many(
                "orders", [ciphertexts[0], "vault:v1:bm9wZQ==", ciphertexts[2]], context=b"tenant-1"
            )
        assert list(partly.value.errors) == [1] and partly.value.results[0] == values[0]

        client.transit.rotate_key("orders")
        rewrapped = client.transit.rewrap("orders", ciphertexts[0], context=b"tenant-1")
        assert rewrapped.startswith("vault:v2:")
        assert client.transit.decrypt("orders", rewrapped, context=b"tenant-1") == values[0]

        mac = client.transit.hmac("orders", b"invoice 17")
        assert client.transit.verify_hmac("orders", b"invoice 17", mac)
        assert not client.transit.verify_hmac("orders", b"invoice 18", mac)
        signature = client.transit.sign("releases", b"release 1.0")
        assert client.transit.verify_signature("releases", b"release 1.0", signature)
        assert not client.transit.verify_signature("releases", b"release 1.1", signature)

        client.transit.configure_key("orders", min_decryption_version=2, deletion_allowed=True)
        assert client.transit.read_key("orders")["min_decryption_version"] == 2
        client.transit.delete_key("orders")
        with pytest.raises(KeyNotFound):
            client.transit.encrypt("orders", b"x")
