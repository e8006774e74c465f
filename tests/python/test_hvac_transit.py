"""Vault's own Python client, hvac, unmodified, driving Strongroom's transit
API: only the URL and the token differ from what it would use against Vault."""
import base64

import hvac
import pytest


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def client(server):
    return hvac.Client(url=server.url, token=server.api_key("transit:use", "transit:manage"))


def test_hvac_transit_lifecycle(client):
    transit = client.secrets.transit
    transit.create_key(name="orders")
    assert "orders" in transit.list_keys()["data"]["keys"]

    encrypted = transit.encrypt_data(name="orders", plaintext=b64("privileged transcript"), context=b64("matter-7"))
    v1 = encrypted["data"]["ciphertext"]
    assert v1.startswith("vault:v1:")
    decrypted = transit.decrypt_data(name="orders", ciphertext=v1, context=b64("matter-7"))
    assert base64.b64decode(decrypted["data"]["plaintext"]).decode() == "privileged transcript"

    transit.rotate_key(name="orders")
    key = transit.read_key(name="orders")["data"]
    assert key["latest_version"] == 2 and set(key["keys"]) == {"1", "2"}
    assert transit.decrypt_data(name="orders", ciphertext=v1, context=b64("matter-7"))["data"]["plaintext"]

    v2 = transit.rewrap_data(name="orders", ciphertext=v1, context=b64("matter-7"))["data"]["ciphertext"]
    assert v2.startswith("vault:v2:")
    transit.update_key_configuration(name="orders", min_decryption_version=2)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.decrypt_data(name="orders", ciphertext=v1, context=b64("matter-7"))
    assert transit.decrypt_data(name="orders", ciphertext=v2, context=b64("matter-7"))["data"]["plaintext"]


def test_hvac_batch_encrypt_and_decrypt(client):
    transit = client.secrets.transit
    transit.create_key(name="batch")
    items = [{"plaintext": b64(f"answer {i}"), "context": b64(f"candidate-{i}")} for i in range(100)]
    results = transit.encrypt_data(name="batch", plaintext="", batch_input=items)["data"]["batch_results"]
    assert len(results) == 100 and all(r["ciphertext"].startswith("vault:v1:") for r in results)
    to_decrypt = [{"ciphertext": r["ciphertext"], "context": b64(f"candidate-{i}")} for i, r in enumerate(results)]
    plain = transit.decrypt_data(name="batch", ciphertext="", batch_input=to_decrypt)["data"]["batch_results"]
    assert [base64.b64decode(p["plaintext"]).decode() for p in plain] == [f"answer {i}" for i in range(100)]


def test_hvac_sees_clear_errors(client, server):
    transit = client.secrets.transit
    transit.create_key(name="k")
    ciphertext = transit.encrypt_data(name="k", plaintext=b64("x"), context=b64("a"))["data"]["ciphertext"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.decrypt_data(name="k", ciphertext=ciphertext, context=b64("b"))
    with pytest.raises(hvac.exceptions.InvalidPath):
        transit.read_key(name="missing")
    anonymous = hvac.Client(url=server.url, token="sr_0000000000000000_" + "A" * 43)
    with pytest.raises((hvac.exceptions.Unauthorized, hvac.exceptions.Forbidden)):
        anonymous.secrets.transit.encrypt_data(name="k", plaintext=b64("x"))


def test_hvac_hmac_sign_verify_and_datakey(client):
    transit = client.secrets.transit
    transit.create_key(name="macs")
    mac = transit.generate_hmac(name="macs", hash_input=b64("subject-42"))["data"]["hmac"]
    assert mac.startswith("vault:v1:")
    assert transit.verify_signed_data(name="macs", hash_input=b64("subject-42"), hmac=mac)["data"]["valid"]
    assert not transit.verify_signed_data(name="macs", hash_input=b64("subject-43"), hmac=mac)["data"]["valid"]

    transit.create_key(name="signer", key_type="ed25519")
    signature = transit.sign_data(name="signer", hash_input=b64("checkpoint 7"))["data"]["signature"]
    assert transit.verify_signed_data(name="signer", hash_input=b64("checkpoint 7"), signature=signature)["data"]["valid"]
    assert not transit.verify_signed_data(name="signer", hash_input=b64("checkpoint 8"),
                                          signature=signature)["data"]["valid"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.encrypt_data(name="signer", plaintext=b64("x"))

    data_key = transit.generate_data_key(name="macs", key_type="plaintext", context=b64("recording-1"))["data"]
    assert len(base64.b64decode(data_key["plaintext"])) == 32
    unwrapped = transit.decrypt_data(name="macs", ciphertext=data_key["ciphertext"], context=b64("recording-1"))
    assert unwrapped["data"]["plaintext"] == data_key["plaintext"]
    wrapped_only = transit.generate_data_key(name="macs", key_type="wrapped")["data"]
    assert "plaintext" not in wrapped_only and wrapped_only["ciphertext"].startswith("vault:v1:")


def test_hvac_is_authenticated_looks_the_token_up_without_seeing_its_secret(client, server):
    assert client.is_authenticated()
    looked_up = client.lookup_token()["data"]
    assert looked_up["policies"] == ["transit:use", "transit:manage"]
    assert looked_up["accessor"] == client.token.split("_")[1]
    assert client.token.rsplit("_", 1)[1] not in str(looked_up)
    revoked = hvac.Client(url=server.url, token="sr_0000000000000000_" + "A" * 43)
    assert not revoked.is_authenticated()


def test_hvac_errors_carry_vault_errors_list_beside_the_problem(client):
    with pytest.raises(hvac.exceptions.InvalidPath) as missing:
        client.secrets.transit.encrypt_data(name="missing", plaintext=b64("x"))
    assert missing.value.errors == ['no key named "missing"']
    assert missing.value.json["code"] == "key_not_found"
    with pytest.raises(hvac.exceptions.InvalidRequest) as reserved:
        client.secrets.transit.create_key(name="matter.case-1")
    assert reserved.value.json["code"] == "reserved_key_name"
    assert "reserved" in reserved.value.errors[0]


def test_hvac_reads_sys_health(client):
    health = client.sys.read_health_status(method="GET")
    assert health["initialized"] is True and health["sealed"] is False and health["standby"] is False


def test_a_persons_access_token_looks_itself_up_as_its_session(server):
    import requests

    password = "correct horse battery staple"
    server.cli("init", "--password-stdin", stdin=password + "\n")
    login = requests.post(f"{server.url}/v1/auth/login", json={"username": "admin", "password": password})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    answer = requests.get(f"{server.url}/v1/auth/token/lookup-self", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["display_name"] == "admin" and data["policies"] == ["admin"]
    assert data["meta"] == {"credential": "session"} and data["ttl"] > 0 and data["expire_time"]
    sessions = requests.get(f"{server.url}/v1/sessions", headers={"Authorization": f"Bearer {token}"}).json()
    assert data["accessor"] in str(sessions)
    assert token not in answer.text
