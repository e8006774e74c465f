"""What the firm's Strongroom administrator sets up once, and per matter.

    STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m legal_transcription.provision roles
    STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m legal_transcription.provision keys
    STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m legal_transcription.provision matter smith-v-jones ada pat

The roles are data on the server (Cedar policies made from them), not
``if user.role == "attorney"`` in the app.
"""

from __future__ import annotations

import os
import sys

from strongroom import Client

ROLES = {
    "attorney": ["record.read", "record.read_redacted", "record.write", "record.decrypt", "record.export"],
    "paralegal": ["record.read", "record.read_redacted", "record.write"],
}
WORKER_KEY_NAME = "transcription-worker"


def define_roles(admin: Client) -> None:
    for name, permissions in ROLES.items():
        admin.roles.create(name, permissions=permissions, justification=f"the firm's {name}s, per the staffing policy")


def issue_keys(admin: Client) -> tuple[str, str]:
    """The app's key (checks tokens, writes its audit events) and the worker's
    (reveals audio of the matters it is granted). Shown once: store them."""
    app = admin.api_keys.create("transcription-app", scopes=["auth:introspect", "audit:write"])
    worker = admin.api_keys.create(WORKER_KEY_NAME, scopes=["records:decrypt"])
    return app.secret, worker.secret


def open_matter(admin: Client, matter_id: str, name: str, staff: list[str]) -> None:
    """The matter, its people and the worker: nobody else reaches its data."""
    admin.matters.create(name, id=matter_id)
    users = {u.username: u for u in admin.users.list()}
    for username in staff:
        admin.matters.grant(matter_id, users[username].principal, justification=f"{username} is staffed on {name}")
    for key in admin.api_keys.list():
        if key.name == WORKER_KEY_NAME and key.revoked_at is None:
            admin.matters.grant(matter_id, f"api_key:{key.id}", justification="the worker transcribes its recordings")


if __name__ == "__main__":
    with Client(os.environ["STRONGROOM_URL"]) as client:
        client.auth.login(os.environ.get("STRONGROOM_ADMIN", "admin"), os.environ["STRONGROOM_ADMIN_PASSWORD"])
        command, *args = sys.argv[1:]
        if command == "roles":
            define_roles(client)
        elif command == "keys":
            app_key, worker_key = issue_keys(client)
            print(f"export STRONGROOM_APP_KEY={app_key}\nexport STRONGROOM_WORKER_KEY={worker_key}")
        elif command == "matter":
            open_matter(client, args[0], args[0].replace("-", " ").title(), args[1:])
