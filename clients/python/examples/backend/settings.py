"""The backend's configuration: where Strongroom is, the backend's own key
(scopes ``auth:introspect`` and ``transit:use``), the wrapped blind-index key
and the database. No encryption key of any kind is among them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy import Engine, create_engine

from strongroom import Client
from strongroom.sqlalchemy import ColumnKeys

TRANSIT_KEY = "customers"  # the transit key the column's data keys are wrapped under


@dataclass
class Settings:
    strongroom_url: str
    app_key: str = field(repr=False)
    blind_index_key: str = field(repr=False)
    database_url: str

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            os.environ["STRONGROOM_URL"],
            os.environ["STRONGROOM_APP_KEY"],
            os.environ["BLIND_INDEX_KEY"],
            os.environ.get("DATABASE_URL", "sqlite:///customers.db"),
        )

    def client(self) -> Client:
        return Client(self.strongroom_url, api_key=self.app_key)

    def column_keys(self) -> ColumnKeys:
        return ColumnKeys(self.client(), TRANSIT_KEY, blind_index_key=self.blind_index_key)

    def engine(self) -> Engine:
        return create_engine(self.database_url)
