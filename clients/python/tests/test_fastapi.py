"""strongroom.fastapi against a real server: a real FastAPI app whose callers
log in to Strongroom and present their access tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from strongroom import AsyncClient, Client
from strongroom.authenticated import AuthenticatedUser
from strongroom.fastapi import StrongroomBearer
from strongroom.testing import LocalServer

from .web_deployment import ADMIN_PASSWORD, ALICE_PASSWORD, GRANTED_MATTER, OTHER_MATTER, Deployment, deploy


def transcripts_api(url: str, app_key: str, **options: Any) -> tuple[FastAPI, StrongroomBearer]:
    """The application: what an app using Strongroom as its identity provider writes."""
    client = AsyncClient(url, api_key=app_key)
    current_user = StrongroomBearer(client, **options)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/me")
    async def me(user: AuthenticatedUser = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        return {"id": user.id, "username": user.username, "roles": user.roles, "matters": user.matters}

    @app.get("/admin", dependencies=[Depends(current_user.require_role("admin"))])
    async def admin_only() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/matters/{matter_id}/transcripts")
    async def transcripts(
        matter_id: str,
        user: AuthenticatedUser = Depends(current_user.require_matter("matter_id")),  # noqa: B008
    ) -> dict[str, str]:
        return {"matter": matter_id, "reader": user.username}

    @app.get(
        "/matters/{matter_id}/records",
        dependencies=[Depends(current_user.require_permission("record.read", matter_param="matter_id"))],
    )
    async def records(matter_id: str) -> dict[str, str]:
        return {"matter": matter_id}

    @app.get(
        "/matters/{matter_id}/reveal",
        dependencies=[Depends(current_user.require_permission("record.decrypt", matter_param="matter_id"))],
    )
    async def reveal(matter_id: str) -> dict[str, str]:
        return {"matter": matter_id}

    @app.get("/users", dependencies=[Depends(current_user.require_permission("user.manage"))])
    async def users() -> dict[str, bool]:
        return {"ok": True}

    return app, current_user


@pytest.fixture
def deployment(server: LocalServer) -> Deployment:
    return deploy(server)


@pytest.fixture
def api(deployment: Deployment) -> Iterator[Callable[..., tuple[TestClient, StrongroomBearer]]]:
    """Starts the app (with verifier options) and closes it after the test."""
    opened: list[TestClient] = []

    def start(**options: Any) -> tuple[TestClient, StrongroomBearer]:
        app, bearer = transcripts_api(deployment.server.url, deployment.app_key, **options)
        opened.append(TestClient(app))
        opened[-1].__enter__()
        return opened[-1], bearer

    yield start
    for client in opened:
        client.__exit__(None, None, None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_dependency_yields_the_user_with_roles_and_matters(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, _ = api()
    answer = http.get("/me", headers=bearer(deployment.login("alice", ALICE_PASSWORD)))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": deployment.alice_id,
        "username": "alice",
        "roles": ["reader"],
        "matters": [GRANTED_MATTER],
    }
    # The OAuth2PasswordBearer it replaces: the same security scheme in the OpenAPI document.
    scheme = http.get("/openapi.json").json()["components"]["securitySchemes"]["StrongroomBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == f"{deployment.server.url}/token"


def test_missing_malformed_and_forged_tokens_are_refused(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, verifier_holder = api()
    missing = http.get("/me")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert http.get("/me", headers=bearer("not-a-jwt")).status_code == 401

    real = deployment.login("alice", ALICE_PASSWORD)
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    # The real key id and claims, signed with another Ed25519 key.
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=header)
    refused = http.get("/me", headers=bearer(forged))
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    # The old trick: a symmetric algorithm keyed with something public.
    hs256 = jwt.encode(
        claims,
        "a secret everybody knows, 32+ bytes long",
        algorithm="HS256",
        headers={"kid": header["kid"], "typ": "at+jwt"},
    )
    assert http.get("/me", headers=bearer(hs256)).status_code == 401
    # The signed token with a byte of its signature changed.
    head, payload, signature = real.split(".")
    flipped = base64.urlsafe_b64decode(signature + "==")
    tampered = f"{head}.{payload}." + base64.urlsafe_b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode().rstrip(
        "="
    )
    assert http.get("/me", headers=bearer(tampered)).status_code == 401
    assert http.get("/me", headers=bearer(real)).status_code == 200
    assert verifier_holder.verifier.jwks_fetches == 1


def test_the_audience_is_checked(make_server) -> None:  # type: ignore[no-untyped-def]
    deployment = deploy(make_server(identity_audience="transcripts-api"))
    token = deployment.login("alice", ALICE_PASSWORD)
    # Configured for another audience (here: the issuer, the default), the token is not for us.
    app, _ = transcripts_api(deployment.server.url, deployment.app_key)
    with TestClient(app) as http:
        refused = http.get("/me", headers=bearer(token))
        assert refused.status_code == 401 and "audience" in refused.headers["WWW-Authenticate"]
    app, _ = transcripts_api(deployment.server.url, deployment.app_key, audience="transcripts-api")
    with TestClient(app) as http:
        assert http.get("/me", headers=bearer(token)).status_code == 200


def test_a_logged_out_token_is_refused_within_the_staleness_bound_and_a_fresh_one_accepted(
    deployment: Deployment,
    api,  # type: ignore[no-untyped-def]
) -> None:
    staleness = 2.0
    http, _ = api(max_staleness=staleness)
    token = deployment.login("alice", ALICE_PASSWORD)
    assert http.get("/me", headers=bearer(token)).status_code == 200
    confirmed_by = time.monotonic()  # the session was introspected before this
    deployment.logout(token)
    # Within the bound the remembered confirmation may still be used: not refused *at once*…
    assert http.get("/me", headers=bearer(token)).status_code == 200
    # …but once the bound has passed since the confirmation, the logout shows.
    time.sleep(max(0.0, confirmed_by + staleness - time.monotonic()) + 0.05)
    refused = http.get("/me", headers=bearer(token))
    assert refused.status_code == 401 and "inactive" in refused.headers["WWW-Authenticate"]
    assert http.get("/me", headers=bearer(token)).status_code == 401  # the refusal is remembered, not reversed
    fresh = deployment.login("alice", ALICE_PASSWORD)
    assert http.get("/me", headers=bearer(fresh)).status_code == 200


def test_a_busy_caller_costs_one_introspection_per_bound_and_the_cache_is_bounded(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, current_user = api(max_staleness=60.0, max_cached_tokens=1)
    alice = bearer(deployment.login("alice", ALICE_PASSWORD))
    for _ in range(20):
        assert http.get("/me", headers=alice).status_code == 200
    assert current_user.verifier.introspections == 1
    # Past max_cached_tokens, the least recently confirmed token is asked about again.
    admin = bearer(deployment.login("admin", ADMIN_PASSWORD))
    assert http.get("/me", headers=admin).status_code == 200
    assert http.get("/me", headers=alice).status_code == 200
    assert current_user.verifier.introspections == 3


def test_with_no_staleness_a_logout_shows_at_once(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, _ = api(max_staleness=0)
    token = deployment.login("alice", ALICE_PASSWORD)
    assert http.get("/me", headers=bearer(token)).status_code == 200
    deployment.logout(token)
    assert http.get("/me", headers=bearer(token)).status_code == 401


def test_an_unknown_kid_after_the_signing_key_rotates_is_fetched_not_refused(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, current_user = api()
    before = deployment.login("alice", ALICE_PASSWORD)
    assert http.get("/me", headers=bearer(before)).status_code == 200
    assert current_user.verifier.jwks_fetches == 1
    old_kid = jwt.get_unverified_header(before)["kid"]
    assert current_user.verifier.known_key_ids == {old_kid}

    deployment.rotate_signing_key()
    after = deployment.login("alice", ALICE_PASSWORD)
    new_kid = jwt.get_unverified_header(after)["kid"]
    assert new_kid != old_kid and new_kid not in current_user.verifier.known_key_ids

    assert http.get("/me", headers=bearer(after)).status_code == 200
    assert current_user.verifier.jwks_fetches == 2 and new_kid in current_user.verifier.known_key_ids
    # Tokens signed before the rotation stay valid while they live (the old version stays in the JWKS).
    assert http.get("/me", headers=bearer(before)).status_code == 200
    assert http.get("/me", headers=bearer(after)).status_code == 200
    assert current_user.verifier.jwks_fetches == 2


def test_forged_key_ids_cost_one_jwks_fetch_per_cooldown(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, current_user = api(jwks_refetch_cooldown=30.0)
    real = deployment.login("alice", ALICE_PASSWORD)
    claims = jwt.decode(real, options={"verify_signature": False})
    assert http.get("/me", headers=bearer(real)).status_code == 200
    for attempt in range(5):
        forged = jwt.encode(
            claims,
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"kid": f"forged-{attempt}", "typ": "at+jwt"},
        )
        refused = http.get("/me", headers=bearer(forged))
        assert refused.status_code == 401 and "unknown_key_id" in refused.headers["WWW-Authenticate"]
    # One fetch at the first request, one for the first unknown id; the rest were refused without asking.
    assert current_user.verifier.jwks_fetches == 2


def test_roles_matters_and_permissions_guard_routes(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, _ = api()
    alice = bearer(deployment.login("alice", ALICE_PASSWORD))
    admin = bearer(deployment.login("admin", ADMIN_PASSWORD))

    assert http.get("/admin", headers=alice).status_code == 403
    assert http.get("/admin", headers=admin).status_code == 200

    granted = http.get(f"/matters/{GRANTED_MATTER}/transcripts", headers=alice)
    assert granted.status_code == 200 and granted.json() == {"matter": GRANTED_MATTER, "reader": "alice"}
    assert http.get(f"/matters/{OTHER_MATTER}/transcripts", headers=alice).status_code == 404
    # The administrator created both matters, which gave them grants.
    assert http.get(f"/matters/{OTHER_MATTER}/transcripts", headers=admin).status_code == 200

    # Permissions are the server's policies' answer for this user, per matter.
    assert http.get(f"/matters/{GRANTED_MATTER}/records", headers=alice).status_code == 200
    assert http.get(f"/matters/{OTHER_MATTER}/records", headers=alice).status_code == 403
    # A reader reads but never decrypts, grant or not; an administrator with a grant does.
    assert http.get(f"/matters/{GRANTED_MATTER}/reveal", headers=alice).status_code == 403
    assert http.get(f"/matters/{GRANTED_MATTER}/reveal", headers=admin).status_code == 200
    assert http.get("/users", headers=alice).status_code == 403
    assert http.get("/users", headers=admin).status_code == 200
    assert http.get("/users").status_code == 401


def test_a_revoked_grant_shows_within_the_staleness_bound(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    staleness = 1.0
    http, _ = api(max_staleness=staleness)
    alice = bearer(deployment.login("alice", ALICE_PASSWORD))
    assert http.get(f"/matters/{GRANTED_MATTER}/transcripts", headers=alice).status_code == 200
    assert http.get(f"/matters/{GRANTED_MATTER}/records", headers=alice).status_code == 200
    confirmed_by = time.monotonic()
    with Client(deployment.server.url) as admin:
        admin.auth.login("admin", ADMIN_PASSWORD)
        admin.matters.revoke(GRANTED_MATTER, f"user:{deployment.alice_id}", justification="alice moved to another team")
    time.sleep(max(0.0, confirmed_by + staleness - time.monotonic()) + 0.05)
    # The same token, still valid: what it may reach is read from Strongroom again.
    assert http.get(f"/matters/{GRANTED_MATTER}/transcripts", headers=alice).status_code == 404
    assert http.get(f"/matters/{GRANTED_MATTER}/records", headers=alice).status_code == 403
    assert http.get("/me", headers=alice).json()["matters"] == []


def test_a_service_token_is_not_a_user(deployment: Deployment, api) -> None:  # type: ignore[no-untyped-def]
    http, _ = api()
    worker_key = deployment.server.api_key("transit:use", name="worker")
    answer = httpx.post(
        f"{deployment.server.url}/token",
        data={"grant_type": "client_credentials", "client_id": worker_key.split("_")[1], "client_secret": worker_key},
    )
    answer.raise_for_status()
    refused = http.get("/me", headers=bearer(answer.json()["access_token"]))
    assert refused.status_code == 401 and "not_a_user" in refused.headers["WWW-Authenticate"]


def test_the_user_never_shows_the_token(deployment: Deployment) -> None:
    import asyncio

    token = deployment.login("alice", ALICE_PASSWORD)

    async def verify() -> AuthenticatedUser:
        async with AsyncClient(deployment.server.url, api_key=deployment.app_key) as client:
            return await StrongroomBearer(client).verifier.verify(token)

    user = asyncio.run(verify())
    assert user.username == "alice" and user.token == token
    assert token not in repr(user) and token.split(".")[1] not in repr(user)
    assert json.dumps(user.matters) == json.dumps([GRANTED_MATTER])
