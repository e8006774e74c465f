"""What the web-integration tests share: a real server with an administrator,
a reader holding a grant on one matter, and an application key that may
introspect; logins and the admin's calls go through the real API."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from strongroom import Client
from strongroom.testing import LocalServer

ADMIN_PASSWORD = "correct horse battery staple 42"
ALICE_PASSWORD = "violet harbour lantern 73 quietly"
GRANTED_MATTER = "case-17"
OTHER_MATTER = "case-18"


@dataclass
class Deployment:
    server: LocalServer
    #: The application's own key: it may introspect its callers' tokens.
    app_key: str
    alice_id: str

    def login(self, username: str, password: str) -> str:
        """A fresh access token (a new session) for ``username``."""
        with Client(self.server.url) as client:
            return client.auth.login(username, password).access_token

    def logout(self, token: str) -> None:
        """``POST /v1/auth/logout`` with the user's token, as their browser would."""
        with Client(self.server.url, token=token) as user:
            user.auth.logout()

    def rotate_signing_key(self) -> None:
        """What an operator does when the token signer is due: ``POST /v1/keys/system.jwt-signing/rotate``."""
        with Client(self.server.url) as admin:
            admin.auth.login("admin", ADMIN_PASSWORD)
            admin.keys.rotate("system.jwt-signing")

    def rotate_signing_key_with_cli(self) -> str:
        """The same from outside the server, as an operator's ``strongroom key
        rotate``; returns the new key id once the server signs with it (it
        sees another process's change within its cache refresh, 100 ms)."""
        self.server.cli("key", "rotate", "system.jwt-signing")
        deadline = time.monotonic() + 5
        while True:
            token = self.login("admin", ADMIN_PASSWORD)
            kid = str(jwt.get_unverified_header(token)["kid"])
            if kid != "jwt-1" or time.monotonic() > deadline:
                return kid
            time.sleep(0.1)


def deploy(server: LocalServer) -> Deployment:
    server.init(ADMIN_PASSWORD)
    server.create_user("alice", ALICE_PASSWORD, "reader")
    with Client(server.url) as admin, Client(server.url) as alice:
        admin.auth.login("admin", ADMIN_PASSWORD)
        alice.auth.login("alice", ALICE_PASSWORD)
        alice_id = alice.auth.me().id
        for matter in (GRANTED_MATTER, OTHER_MATTER):
            admin.matters.create(f"Matter {matter}", id=matter)
        admin.matters.grant(
            GRANTED_MATTER, f"user:{alice_id}", justification="alice transcribes this matter's hearings"
        )
    return Deployment(server=server, app_key=server.api_key("auth:introspect", name="web-app"), alice_id=alice_id)
