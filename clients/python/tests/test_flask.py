"""strongroom.flask against a real server: a real Flask app (its test client)
whose callers log in to Strongroom and present their access tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from strongroom import Client
from strongroom.flask import StrongroomAuth, current_user, require_auth, require_permission
from strongroom.testing import LocalServer

from .web_deployment import ADMIN_PASSWORD, ALICE_PASSWORD, GRANTED_MATTER, OTHER_MATTER, Deployment, deploy


def interviews_app(url: str, app_key: str, **options: Any) -> tuple[Flask, StrongroomAuth]:
    """The application: what an app using Strongroom as its identity provider writes."""
    app = Flask(__name__)
    auth = StrongroomAuth(app, Client(url, api_key=app_key), **options)

    @app.get("/me")
    @require_auth
    def me() -> dict[str, Any]:
        return {"username": current_user.username, "roles": list(current_user.roles)}

    @app.get("/interviews")
    @require_auth(roles=["interviewer", "admin"])
    def interviews() -> dict[str, Any]:
        return {"reviewer": current_user.username}

    @app.get("/matters/<matter_id>/transcript")
    @require_auth(matter_arg="matter_id")
    def transcript(matter_id: str) -> dict[str, Any]:
        return {"matter": matter_id}

    @app.get("/matters/<matter_id>/records")
    @require_permission("record.read", matter_arg="matter_id")
    def records(matter_id: str) -> dict[str, Any]:
        return {"matter": matter_id, "reader": current_user.username}

    @app.get("/users")
    @require_permission("user.manage")
    def users() -> dict[str, Any]:
        return {"ok": True}

    return app, auth


@pytest.fixture
def deployment(server: LocalServer) -> Deployment:
    return deploy(server)


@pytest.fixture
def app(deployment: Deployment) -> Iterator[Flask]:
    app, auth = interviews_app(deployment.server.url, deployment.app_key, max_staleness=2.0)
    yield app
    assert auth.verifier is not None
    auth.verifier.client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_require_auth_yields_the_user_and_refuses_without_a_valid_token(deployment: Deployment, app: Flask) -> None:
    http = app.test_client()
    answer = http.get("/me", headers=bearer(deployment.login("alice", ALICE_PASSWORD)))
    assert answer.status_code == 200 and answer.json == {"username": "alice", "roles": ["reader"]}

    missing = http.get("/me")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.content_type == "application/problem+json" and missing.json["status"] == 401
    assert http.get("/me", headers=bearer("a.b.c")).status_code == 401
    assert http.get("/me", headers={"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="}).status_code == 401


def test_roles_matters_and_permissions(deployment: Deployment, app: Flask) -> None:
    http = app.test_client()
    alice = bearer(deployment.login("alice", ALICE_PASSWORD))
    admin = bearer(deployment.login("admin", ADMIN_PASSWORD))

    refused = http.get("/interviews", headers=alice)
    assert refused.status_code == 403 and "interviewer" in refused.json["detail"]
    assert http.get("/interviews", headers=admin).json == {"reviewer": "admin"}

    assert http.get(f"/matters/{GRANTED_MATTER}/transcript", headers=alice).status_code == 200
    assert http.get(f"/matters/{OTHER_MATTER}/transcript", headers=alice).status_code == 404

    assert http.get(f"/matters/{GRANTED_MATTER}/records", headers=alice).json == {
        "matter": GRANTED_MATTER,
        "reader": "alice",
    }
    assert http.get(f"/matters/{OTHER_MATTER}/records", headers=alice).status_code == 403
    assert http.get("/users", headers=alice).status_code == 403
    assert http.get("/users", headers=admin).status_code == 200


def test_a_logout_shows_within_the_staleness_bound(deployment: Deployment, app: Flask) -> None:
    http = app.test_client()
    token = deployment.login("alice", ALICE_PASSWORD)
    assert http.get("/me", headers=bearer(token)).status_code == 200
    confirmed_by = time.monotonic()
    deployment.logout(token)
    time.sleep(max(0.0, confirmed_by + 2.0 - time.monotonic()) + 0.05)
    assert http.get("/me", headers=bearer(token)).status_code == 401
    assert http.get("/me", headers=bearer(deployment.login("alice", ALICE_PASSWORD))).status_code == 200


def test_an_unknown_kid_after_rotation_is_fetched(deployment: Deployment, app: Flask) -> None:
    http = app.test_client()
    assert http.get("/me", headers=bearer(deployment.login("alice", ALICE_PASSWORD))).status_code == 200
    assert deployment.rotate_signing_key_with_cli() == "jwt-2"
    assert http.get("/me", headers=bearer(deployment.login("alice", ALICE_PASSWORD))).status_code == 200
    verifier = app.extensions["strongroom"].verifier
    assert verifier.jwks_fetches == 2 and verifier.known_key_ids == {"jwt-1", "jwt-2"}
