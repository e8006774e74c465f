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

# Redis: the shared rate-limit counter (`ratelimit.redis_url`) in the
# instance tests; it keeps nothing on disk.
redis_ready() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null; }
if ! redis_ready; then
    if ! command -v redis-server >/dev/null; then
        echo "Redis is not installed: apt-get install redis-server (the instance tests need it)" >&2
        exit 1
    fi
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" >/dev/null
    for _ in $(seq 1 30); do redis_ready && break; sleep 0.2; done
fi
redis_ready || { echo "Redis did not come up on 127.0.0.1:6379" >&2; exit 1; }
echo "Redis ready on 127.0.0.1:6379"
