"""Identity from the outside, with the clients applications use: pyotp for
TOTP codes, PyJWT against the JWKS, Python's bcrypt for imported hashes."""
import base64
import json
import time

import bcrypt
import jwt
import pyotp
import pytest
import requests

PASSWORD = "correct horse battery staple"


def login(server, username="admin", password=PASSWORD):
    return requests.post(f"{server.url}/v1/auth/login", json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(server):
    server.cli("init", "--password-stdin", stdin=PASSWORD + "\n")
    answer = login(server)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_totp_login_refresh_reuse_and_logout(server, admin):
    enrolment = requests.post(f"{server.url}/v1/auth/totp/enroll", headers=bearer(admin["access_token"]))
    assert enrolment.status_code == 200, enrolment.text
    enrolment = enrolment.json()
    assert base64.b64decode(enrolment["qr_png"]).startswith(b"\x89PNG")
    totp = pyotp.parse_uri(enrolment["otpauth_uri"])
    confirmed = requests.post(f"{server.url}/v1/auth/totp/confirm", headers=bearer(admin["access_token"]),
                              json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10

    challenge = login(server).json()
    assert challenge["mfa_required"] is True and "access_token" not in challenge
    # The current step was used to confirm: a replay is refused, the next step (within the skew) is not.
    replay = requests.post(f"{server.url}/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": totp.now()})
    assert replay.status_code == 401 and replay.json()["code"] == "login_failed"
    challenge = login(server).json()
    tokens = requests.post(f"{server.url}/v1/auth/mfa",
                           json={"mfa_token": challenge["mfa_token"], "code": totp.at(time.time() + 30)})
    assert tokens.status_code == 200, tokens.text
    tokens = tokens.json()
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(tokens["access_token"])).json()["mfa_enabled"]

    refreshed = requests.post(f"{server.url}/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(fresh["access_token"])).status_code == 200
    reused = requests.post(f"{server.url}/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    # Presenting the used token revoked the whole session: its newest tokens die with it.
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(fresh["access_token"])).status_code == 401
    assert requests.post(f"{server.url}/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 401

    challenge = login(server).json()
    with_recovery = requests.post(f"{server.url}/v1/auth/mfa",
                                  json={"mfa_token": challenge["mfa_token"], "code": recovery[0]})
    assert with_recovery.status_code == 200, with_recovery.text
    session = with_recovery.json()
    again = login(server).json()
    assert requests.post(f"{server.url}/v1/auth/mfa",
                         json={"mfa_token": again["mfa_token"], "code": recovery[0]}).status_code == 401
    assert requests.post(f"{server.url}/v1/auth/logout", headers=bearer(session["access_token"])).status_code == 204
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(session["access_token"])).status_code == 401

    auditor = requests.Session()
    auditor.headers["X-API-Key"] = server.api_key("audit:read")
    events = auditor.get(f"{server.url}/v1/audit/events", params={"limit": 1000}).json()["events"]
    types = {e["event"]["type"] for e in events}
    assert {"login.success", "mfa.enroll", "mfa.success", "mfa.failure", "token.refresh",
            "token.reuse", "mfa.recovery_code_used", "logout"} <= types, types
    # No secret of the flow is in the log or the audit trail.
    secrets = [PASSWORD, totp.secret, tokens["refresh_token"], fresh["access_token"], recovery[1]]
    trail = json.dumps(events) + server.logs()
    assert not [s for s in secrets if s in trail]


def test_access_tokens_verify_with_pyjwt_and_forgeries_are_refused(server, admin):
    token = admin["access_token"]
    signing_key = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["EdDSA"], issuer="strongroom", audience="strongroom")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert claims["sid"] == admin["session_id"] and claims["roles"] == ["admin"]

    header, payload, _ = token.split(".")
    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    forged_claims = dict(claims, roles=["admin", "system"], exp=claims["exp"] + 3600)
    jwk = requests.get(f"{server.url}/.well-known/jwks.json").json()["keys"][0]
    public_raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    forgeries = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': jwk['kid']})}.{b64(forged_claims)}.",
        "HS256 with the public key as secret": jwt.encode(forged_claims, public_raw, algorithm="HS256",
                                                          headers={"kid": jwk["kid"]}),
        "wrong kid": f"{b64({'alg': 'EdDSA', 'typ': 'JWT', 'kid': 'jwt-999'})}.{payload}.{token.split('.')[2]}",
        "bad signature": f"{header}.{b64(forged_claims)}.{token.split('.')[2]}",
        "truncated": f"{header}.{payload}",
    }
    for name, forged in forgeries.items():
        answer = requests.get(f"{server.url}/v1/users/me", headers=bearer(forged))
        assert answer.status_code == 401, name


def test_expired_access_tokens_are_refused(make_server):
    server = make_server(identity_access_token_seconds=1)
    server.cli("init", "--password-stdin", stdin=PASSWORD + "\n")
    token = login(server).json()["access_token"]
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(token)).status_code == 200
    time.sleep(2.1)
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(token)).status_code == 401


def test_lockout_and_no_enumeration(server, admin):
    unknown = login(server, "nobody-here", PASSWORD)
    wrong = login(server, "admin", "wrong password entirely")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["code"] == wrong.json()["code"] == "login_failed"
    assert unknown.json()["detail"] == wrong.json()["detail"]
    # Comparable timing: an unknown user costs the same Argon2 work.
    def timed(username):
        started = time.perf_counter()
        login(server, username, "wrong password entirely")
        return time.perf_counter() - started
    for i in range(3):
        created = requests.post(f"{server.url}/v1/users", headers=bearer(admin["access_token"]), json={
            "username": f"victim{i}", "email": f"victim{i}@example.com", "roles": ["reader"], "password": PASSWORD})
        assert created.status_code == 201, created.text
    unknown_times = sorted(timed(f"ghost-{i}") for i in range(3))
    wrong_times = sorted(timed(f"victim{i}") for i in range(3))
    assert 0.5 < unknown_times[1] / wrong_times[1] < 2.0, (unknown_times, wrong_times)

    for _ in range(4):
        assert login(server, "admin", "wrong password entirely").status_code == 401
    locked = login(server, "admin", PASSWORD)
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["Retry-After"]) > 0
    # Failures anyone can send end no session: the owner stays logged in.
    assert requests.get(f"{server.url}/v1/users/me", headers=bearer(admin["access_token"])).status_code == 200
    auditor = requests.Session()
    auditor.headers["X-API-Key"] = server.api_key("audit:read")
    locks = auditor.get(f"{server.url}/v1/audit/events", params={"action": "user.lock"}).json()["events"]
    assert [e["event"]["details"]["reason"] for e in locks] == ["brute_force"], locks
    server.cli("user", "unlock", "admin")
    assert login(server).status_code == 200


def test_a_bcrypt_hash_from_python_logs_in_and_is_upgraded(server, admin):
    legacy = bcrypt.hashpw(b"imported from fastapi 2019", bcrypt.gensalt(rounds=12)).decode()
    created = requests.post(f"{server.url}/v1/users", headers=bearer(admin["access_token"]), json={
        "username": "legacy", "email": "legacy@example.com", "roles": ["reader"], "password_hash": legacy})
    assert created.status_code == 201, created.text
    first = login(server, "legacy", "imported from fastapi 2019")
    assert first.status_code == 200, first.text
    assert login(server, "legacy", "imported from fastapi 2019").status_code == 200
    auditor = requests.Session()
    auditor.headers["X-API-Key"] = server.api_key("audit:read")
    changes = auditor.get(f"{server.url}/v1/audit/events", params={"action": "password.change"}).json()["events"]
    upgrades = [e for e in changes if e["event"]["details"].get("reason") == "rehash"]
    assert len(upgrades) == 1, changes
    assert legacy not in json.dumps(changes) + server.logs()


def test_api_keys_scopes_expiry_cidr_rate_limit_rotation_and_revocation(server, admin):
    import os
    import sqlite3
    admin_headers = bearer(admin["access_token"])

    def issue(**fields):
        answer = requests.post(f"{server.url}/v1/api-keys", headers=admin_headers,
                               json={"name": "worker", "scopes": ["transit:use"], **fields})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def encrypt(secret):
        return requests.post(f"{server.url}/v1/transit/encrypt/jobs", headers={"X-Vault-Token": secret},
                             json={"plaintext": "aGk="})

    manager = issue(scopes=["transit:manage", "transit:use"])
    assert requests.post(f"{server.url}/v1/transit/keys/jobs", headers={"X-API-Key": manager["secret"]}).status_code == 200

    # Scopes: transit:use encrypts but cannot manage keys, list users or read the audit log.
    worker = issue()
    assert worker["secret"].startswith(f"sr_{worker['id']}_")
    assert encrypt(worker["secret"]).status_code == 200
    for method, path in [("post", "/v1/transit/keys/other"), ("get", "/v1/users"), ("get", "/v1/audit/events")]:
        answer = getattr(requests, method)(f"{server.url}{path}", headers={"X-API-Key": worker["secret"]})
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["code"] == "forbidden"

    # CIDR: a key for 10.0.0.0/8 is refused from 127.0.0.1.
    fenced = issue(allowed_cidrs=["10.0.0.0/8"])
    assert encrypt(fenced["secret"]).status_code == 403
    local = issue(allowed_cidrs=["127.0.0.1/32"])
    assert encrypt(local["secret"]).status_code == 200

    # Rate limit: three at once (the burst), then the fourth in a minute is 429 with Retry-After.
    limited = issue(rate_limit_per_minute=3, rate_limit_burst=3)
    answers = [encrypt(limited["secret"]) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and int(answers[3].headers["Retry-After"]) >= 1

    # Rotation with a grace period: old and new work, then only the new.
    rotated = requests.post(f"{server.url}/v1/api-keys/{worker['id']}/rotate", headers=admin_headers,
                            json={"grace_seconds": 2}).json()
    assert rotated["secret"] != worker["secret"] and rotated["previous_secret_valid_until"]
    assert encrypt(worker["secret"]).status_code == 200
    assert encrypt(rotated["secret"]).status_code == 200
    time.sleep(3)
    assert encrypt(worker["secret"]).status_code == 401
    assert encrypt(rotated["secret"]).status_code == 200

    # Expiry: a key past its expires_at is refused (its date moved back in the database).
    expiring = issue(expires_in_days=1)
    assert encrypt(expiring["secret"]).status_code == 200
    database = sqlite3.connect(os.path.join(server.data_dir, "strongroom.db"))
    database.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", (int(time.time()) - 1, expiring["id"]))
    database.commit()
    database.close()
    # A change made outside the server moves the database's change generation
    # (a trigger); the server sees it at its next poll (database.cache_refresh_ms,
    # 100 ms) and reads the key again. A loaded test machine gets 2 s.
    deadline = time.monotonic() + 2
    while encrypt(expiring["secret"]).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert encrypt(expiring["secret"]).status_code == 401

    # Revocation takes effect at once; listing shows no secret.
    assert requests.delete(f"{server.url}/v1/api-keys/{local['id']}", headers=admin_headers).status_code == 204
    assert encrypt(local["secret"]).status_code == 401
    listed = requests.get(f"{server.url}/v1/api-keys", headers=admin_headers).json()["api_keys"]
    assert {k["id"] for k in listed} >= {worker["id"], local["id"]}
    assert not [k for k in listed if "secret" in k]
    usage = next(k for k in listed if k["id"] == limited["id"])
    assert usage["use_count"] >= 0
    # A key cannot mint a key with more scopes than it has.
    minter = issue(scopes=["api_keys:manage"])
    escalate = requests.post(f"{server.url}/v1/api-keys", headers={"X-API-Key": minter["secret"]},
                             json={"name": "escalate", "scopes": ["users:manage"]})
    assert escalate.status_code == 403
    assert worker["secret"] not in server.logs() and rotated["secret"] not in server.logs()


# ---- Identity for an application's own endpoints (issue 20, item 4) ---------

def introspect(server, key, token, **extra):
    """RFC 7662 as an app calls it: form-encoded, the app's key as HTTP Basic."""
    key_id = key.split("_")[1]
    return requests.post(f"{server.url}/v1/auth/introspect", data={"token": token, **extra}, auth=(key_id, key))


def token_form(**fields):
    """The fields of FastAPI's OAuth2PasswordRequestForm (grant_type, username, password, scope,
    client_id, client_secret), as a FastAPI client posts them, plus any extra such as totp."""
    form = {"grant_type": "password", "username": "", "password": "", "scope": "", "client_id": "",
            "client_secret": ""}
    form.update(fields)
    return form


def test_pyjwt_verifies_signature_and_audience_from_discovery(make_server):
    server = make_server(identity_audience="transcripts-api")
    server.cli("init", "--password-stdin", stdin=PASSWORD + "\n")
    discovery = requests.get(f"{server.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == "strongroom"
    assert discovery["introspection_endpoint"].endswith("/v1/auth/introspect")
    jwks = requests.get(discovery["jwks_uri"])
    assert "max-age=" in jwks.headers["Cache-Control"], jwks.headers
    token = requests.post(discovery["token_endpoint"],
                          data=token_form(username="admin", password=PASSWORD)).json()["access_token"]
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token).key
    claims = jwt.decode(token, key, algorithms=["EdDSA"], issuer=discovery["issuer"], audience="transcripts-api")
    assert claims["preferred_username"] == "admin"
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["EdDSA"], audience="someone-else")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"


def test_token_endpoint_with_fastapi_form_totp_refresh_and_client_credentials(server, admin):
    # The password grant as FastAPI's OAuth2PasswordRequestForm sends it.
    answer = requests.post(f"{server.url}/token", data=token_form(username="admin", password=PASSWORD))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "bearer"
    wrong = requests.post(f"{server.url}/token", data=token_form(username="admin", password="not the password"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_grant", wrong.text
    assert wrong.json()["code"] == "login_failed" and "WWW-Authenticate" in wrong.headers

    # An account with a second factor: `totp` beside the form fields (the guide's /token-2fa).
    enrolment = requests.post(f"{server.url}/v1/auth/totp/enroll", headers=bearer(admin["access_token"])).json()
    totp = pyotp.parse_uri(enrolment["otpauth_uri"])
    assert requests.post(f"{server.url}/v1/auth/totp/confirm", headers=bearer(admin["access_token"]),
                         json={"code": totp.at(time.time() - 30)}).status_code == 200
    needs = requests.post(f"{server.url}/token", data=token_form(username="admin", password=PASSWORD))
    assert needs.status_code == 403 and needs.json()["code"] == "mfa_required", needs.text
    assert needs.json()["error"] == "invalid_grant"
    pair = requests.post(f"{server.url}/token", data=token_form(username="admin", password=PASSWORD,
                                                                  totp=totp.now()))
    assert pair.status_code == 200, pair.text
    pair = pair.json()

    # The refresh grant.
    refreshed = requests.post(f"{server.url}/token",
                              data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != pair["refresh_token"]
    used = requests.post(f"{server.url}/token",
                         data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert used.status_code == 401 and used.json()["error"] == "invalid_grant"

    # Client credentials for an API key: form fields, or HTTP Basic.
    key = server.api_key("transit:use", "transit:manage")
    key_id = key.split("_")[1]
    service = requests.post(f"{server.url}/token", data=token_form(grant_type="client_credentials",
                                                                     client_id=key_id, client_secret=key))
    assert service.status_code == 200, service.text
    service = service.json()
    assert set(service["scope"].split()) == {"transit:use", "transit:manage"} and service["expires_in"] <= 300
    assert requests.post(f"{server.url}/v1/transit/keys/app-key", headers=bearer(service["access_token"])).ok
    basic = requests.post(f"{server.url}/token", data={"grant_type": "client_credentials"}, auth=(key_id, key))
    assert basic.status_code == 200, basic.text
    bad = requests.post(f"{server.url}/token", data={"grant_type": "client_credentials"}, auth=(key_id, "nope"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert bad.headers["WWW-Authenticate"].startswith("Basic")
    unsupported = requests.post(f"{server.url}/token", data={"grant_type": "authorization_code"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"


def test_introspection_of_live_expired_revoked_and_logged_out_tokens_and_revoked_keys(make_server):
    server = make_server(identity_access_token_seconds=2)
    server.cli("init", "--password-stdin", stdin=PASSWORD + "\n")
    app = server.api_key("auth:introspect", "api_keys:manage")

    live = login(server).json()
    answer = introspect(server, app, live["access_token"])
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    assert answer["active"] is True and answer["username"] == "admin" and answer["roles"] == ["admin"]
    assert answer["session"] == live["session_id"] and answer["sub"] and answer["exp"] > time.time()
    assert answer["matters"] == [] and answer["token_type"] == "access_token"

    logged_out = login(server).json()
    assert requests.post(f"{server.url}/v1/auth/logout", headers=bearer(logged_out["access_token"])).status_code == 204
    assert introspect(server, app, logged_out["access_token"]).json() == {"active": False}

    revoked = login(server).json()
    assert requests.delete(f"{server.url}/v1/sessions/{revoked['session_id']}",
                           headers=bearer(live["access_token"])).status_code == 204
    assert introspect(server, app, revoked["access_token"]).json() == {"active": False}

    # An application key the app issued to its own customer, with its own scopes.
    issued = requests.post(f"{server.url}/v1/api-keys", headers={"X-API-Key": app},
                           json={"name": "customer-7", "scopes": ["app:transcripts.read"], "expires_in_days": 30})
    assert issued.status_code == 201, issued.text
    customer = issued.json()["secret"]
    answer = introspect(server, app, customer).json()
    assert answer["active"] is True and answer["scopes"] == ["app:transcripts.read"], answer
    assert answer["application_key"] is True and answer["token_type"] == "api_key" and answer["exp"] > time.time()
    # It is for the app's endpoints only: Strongroom's routes refuse it.
    assert requests.get(f"{server.url}/v1/matters", headers={"X-API-Key": customer}).status_code == 403
    assert requests.post(f"{server.url}/v1/transit/encrypt/k", headers={"X-API-Key": customer},
                         json={"plaintext": "aGk="}).status_code == 403
    # Revoked keys are inactive.
    assert requests.delete(f"{server.url}/v1/api-keys/{customer.split('_')[1]}",
                           headers={"X-API-Key": app}).status_code == 204
    assert introspect(server, app, customer).json() == {"active": False}

    # Nobody but the scope's holders (and admins) may ask.
    other = server.api_key("transit:use")
    refused = introspect(server, other, live["access_token"])
    assert refused.status_code == 403, refused.text

    time.sleep(2.5)
    assert introspect(server, app, live["access_token"]).json() == {"active": False}, "expired"


def test_introspection_reports_a_locked_users_token_inactive(server, admin):
    app = server.api_key("auth:introspect")
    created = requests.post(f"{server.url}/v1/users", headers=bearer(admin["access_token"]),
                            json={"username": "paula", "email": "p@example.com", "roles": ["reader"],
                                  "password": "quiet meadow lantern ferry forty two"})
    assert created.status_code == 201, created.text
    paula = login(server, "paula", "quiet meadow lantern ferry forty two").json()
    assert introspect(server, app, paula["access_token"]).json()["active"] is True
    locked = requests.post(f"{server.url}/v1/users/{created.json()['id']}/lock", headers=bearer(admin["access_token"]),
                           json={"reason": "left the firm this morning"})
    assert locked.status_code == 200, locked.text
    assert introspect(server, app, paula["access_token"]).json() == {"active": False}
