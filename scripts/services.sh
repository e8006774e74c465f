#!/usr/bin/env bash
# Starts the local services the test suite talks to, if they are not running.
# Only 127.0.0.1. Idempotent: safe to run before every test run.
set -euo pipefail

postgres_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if ! postgres_ready; then
    if ! command -v pg_ctlcluster >/dev/null; then
        echo "PostgreSQL is not installed: apt-get install postgresql (tests on PostgreSQL need it)" >&2
        exit 1
    fi
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    for _ in $(seq 1 30); do postgres_ready && break; sleep 1; done
fi
postgres_ready || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }
echo "PostgreSQL ready on 127.0.0.1:5432"
