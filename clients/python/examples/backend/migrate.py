"""Encrypts the existing ``customers.email`` column in place.

    STRONGROOM_URL=… STRONGROOM_APP_KEY=… BLIND_INDEX_KEY=… DATABASE_URL=sqlite:///customers.db \
        python -m backend.migrate [--dry-run]

Batches in primary-key order, each committed with its progress, so it can be
stopped at any moment and run again; values already encrypted are skipped.
"""

from __future__ import annotations

import sys

from sqlalchemy import Engine, inspect, text

from strongroom.sqlalchemy import ColumnKeys, MigrationReport, migrate_column_to_encryption

from .settings import Settings


def add_blind_index_column(engine: Engine) -> None:
    """Step 1, a plain schema change (an Alembic revision in a real app): where the index goes."""
    if "email_index" not in {c["name"] for c in inspect(engine).get_columns("customers")}:
        with engine.begin() as db:
            db.execute(text("ALTER TABLE customers ADD COLUMN email_index VARCHAR(64)"))
            db.execute(text("CREATE INDEX ix_customers_email_index ON customers (email_index)"))


def encrypt_emails(engine: Engine, keys: ColumnKeys, *, dry_run: bool = False) -> MigrationReport:
    """Step 3, once the app runs with ``accept_plaintext=True`` (step 2); then drop that flag (step 4)."""
    return migrate_column_to_encryption(engine, "customers", "email", keys, blind_index="email_index", dry_run=dry_run)


if __name__ == "__main__":
    settings = Settings.from_environment()
    add_blind_index_column(settings.engine())
    print(encrypt_emails(settings.engine(), settings.column_keys(), dry_run="--dry-run" in sys.argv))
