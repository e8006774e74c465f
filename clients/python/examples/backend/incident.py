"""Incident response: an account is compromised, or a partner's key leaked.

    STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m backend.incident user mallory "phished, ticket SEC-12"
    STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m backend.incident key <key id>

Each is a call to Strongroom, effective at once everywhere that checks with
it: the dashboard, the API, and this backend (which introspects every key).
"""

from __future__ import annotations

import os
import sys

from strongroom import Client


def contain_user(admin: Client, username: str, reason: str) -> dict[str, int]:
    """Locks the account (no more logins) and revokes every session and API key it holds."""
    user = next(u for u in admin.users.list() if u.username == username)
    admin.users.lock(user.id, reason=reason)
    return admin.users.revoke_sessions(user.id)


def revoke_key(admin: Client, key_id: str) -> None:
    """A leaked key (a partner's, the backend's own) stops working at once."""
    admin.api_keys.revoke(key_id)


if __name__ == "__main__":
    with Client(os.environ["STRONGROOM_URL"]) as client:
        client.auth.login(os.environ.get("STRONGROOM_ADMIN", "admin"), os.environ["STRONGROOM_ADMIN_PASSWORD"])
        if sys.argv[1] == "user":
            print(contain_user(client, sys.argv[2], sys.argv[3]))
        else:
            revoke_key(client, sys.argv[2])
