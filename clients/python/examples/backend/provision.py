"""What the Strongroom administrator sets up for the backend, once, and per partner.

STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m backend.provision backend
STRONGROOM_URL=… STRONGROOM_ADMIN_PASSWORD=… python -m backend.provision partner acme app:customers.read
"""

from __future__ import annotations

import os
import sys

from strongroom import Client
from strongroom.sqlalchemy import ColumnKeys

from .settings import TRANSIT_KEY


def provision_backend(admin: Client) -> tuple[str, str]:
    """The transit key, the backend's own key and its blind-index key (wrapped): store both."""
    # Transit keys are made with a key's transit:manage scope (no role carries it): one for this step only.
    setup = admin.api_keys.create("customers-setup", scopes=["transit:manage"], expires_in_days=1)
    with Client(admin.url, api_key=setup.secret) as operator:
        operator.transit.create_key(TRANSIT_KEY)
    admin.api_keys.revoke(setup.key.id)
    app_key = admin.api_keys.create("customers-backend", scopes=["auth:introspect", "transit:use"]).secret
    with Client(admin.url, api_key=app_key) as backend:
        blind_index_key = ColumnKeys(backend, TRANSIT_KEY).new_blind_index_key()
    return app_key, blind_index_key


def issue_partner_key(admin: Client, partner: str, *scopes: str) -> str:
    """An application key for a partner system: only ``app:`` scopes, valid a year, 600 calls a minute."""
    issued = admin.api_keys.create(f"partner-{partner}", scopes=scopes, expires_in_days=365, rate_limit_per_minute=600)
    return issued.secret


if __name__ == "__main__":
    with Client(os.environ["STRONGROOM_URL"]) as client:
        client.auth.login(os.environ.get("STRONGROOM_ADMIN", "admin"), os.environ["STRONGROOM_ADMIN_PASSWORD"])
        if sys.argv[1] == "backend":
            app_key, blind_index_key = provision_backend(client)
            print(f"export STRONGROOM_APP_KEY={app_key}\nexport BLIND_INDEX_KEY={blind_index_key}")
        else:
            print(issue_partner_key(client, sys.argv[2], *sys.argv[3:]))
