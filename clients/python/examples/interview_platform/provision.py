"""What the platform's Strongroom administrator sets up once.

    STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m interview_platform.provision ana rita blair

The collection declares each field's sensitivity, so the server, not the
app, decides what each role sees; the policy makes every reveal in the
hiring matter a two-person decision, in any security profile.
"""

from __future__ import annotations

import os
import sys

from strongroom import Client

MATTER = "hiring-2026"
FIELDS = [
    {"name": "position", "type": "string", "sensitivity": "public"},
    {"name": "score", "type": "number", "sensitivity": "public"},
    {"name": "answer", "type": "text", "sensitivity": "redacted"},  # analysts see "call me on [PHONE]"
    {"name": "candidate", "type": "string", "sensitivity": "secret", "pii": "email"},
]
TWO_PERSON_REVEAL = f"""
@id("interviews.two_person_reveal")
@description("a reveal in {MATTER} needs an access request approved by someone else")
forbid (
    principal is Strongroom::User,
    action == Strongroom::Action::"record.decrypt",
    resource in Strongroom::Matter::"{MATTER}"
)
unless {{ context.elevated }};
"""


def provision(admin: Client, reviewers: list[str]) -> str:
    """The collection, the matter, the reviewers' grants and the policy; returns the app's key."""
    admin.collections.create("candidate_interviews", fields=FIELDS, default_ttl_seconds=86_400 * 180)
    admin.matters.create("Hiring 2026", id=MATTER)
    users = {u.username: u for u in admin.users.list()}
    for username in reviewers:
        admin.matters.grant(
            MATTER, users[username].principal, justification=f"{username} reviews the 2026 hiring round"
        )
    admin.policies.replace(TWO_PERSON_REVEAL, justification="candidates' answers: two-person rule for reveals")
    return admin.api_keys.create("interview-platform", scopes=["auth:introspect"]).secret


if __name__ == "__main__":
    with Client(os.environ["STRONGROOM_URL"]) as client:
        client.auth.login(os.environ.get("STRONGROOM_ADMIN", "admin"), os.environ["STRONGROOM_ADMIN_PASSWORD"])
        print(f"export STRONGROOM_APP_KEY={provision(client, sys.argv[1:])}")
