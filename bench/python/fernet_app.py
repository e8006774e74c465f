"""The records workload as the seed applications implement it today, for
bench/records.sh to measure beside Strongroom.

It follows the legal-transcription guide: a FastAPI app verifies its own
HS256 JWT, encrypts each sensitive field with Fernet under a key derived
from the application secret with PBKDF2-HMAC-SHA256 (100,000 iterations,
a random salt stored beside the value) on every call, and writes the row and
an audit row in one transaction. Durability matches Strongroom's: SQLite in
WAL mode with synchronous=FULL, or PostgreSQL with its defaults.

    APP_DB=sqlite:/path/app.db | postgresql://user@host/db
    APP_SECRET=...    uvicorn fernet_app:app --workers 2
"""

import base64
import json
import os
import sqlite3
import threading
import time
import uuid

import jwt
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

SECRET = os.environ["APP_SECRET"].encode()
DB = os.environ["APP_DB"]
SECRET_FIELDS = ("transcribed_text", "tokens", "embedding")
PUBLIC_FIELDS = ("user_id", "consent_id", "timestamp", "anonymized_answer", "score", "feedback", "status")

app = FastAPI()
local = threading.local()


def connection():
    """One connection per worker thread, as SQLAlchemy's pool would keep."""
    conn = getattr(local, "conn", None)
    if conn is None:
        if DB.startswith("sqlite:"):
            conn = sqlite3.connect(DB[len("sqlite:"):], timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        else:
            import psycopg

            conn = psycopg.connect(DB)
        local.conn = conn
    return conn


def placeholder():
    return "?" if DB.startswith("sqlite:") else "%s"


def create_tables():
    conn = connection()
    statements = [
        "CREATE TABLE IF NOT EXISTS interviews (id TEXT PRIMARY KEY, matter TEXT NOT NULL, "
        "public_fields TEXT NOT NULL, secret_fields TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE IF NOT EXISTS audit_log (id TEXT PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL, "
        "target TEXT NOT NULL, justification TEXT, at DOUBLE PRECISION NOT NULL)",
    ]
    if DB.startswith("sqlite:"):
        for statement in statements:
            conn.execute(statement)
    else:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)


def fernet(salt: bytes) -> Fernet:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=100_000)
    return Fernet(base64.urlsafe_b64encode(kdf.derive(SECRET)))


def encrypt_field(value) -> str:
    salt = os.urandom(16)
    token = fernet(salt).encrypt(json.dumps(value).encode())
    return base64.b64encode(salt).decode() + ":" + token.decode()


def decrypt_field(stored: str):
    salt, token = stored.split(":", 1)
    return json.loads(fernet(base64.b64decode(salt)).decrypt(token.encode()))


def current_user(authorization: str) -> str:
    if not authorization.startswith("Bearer "):
        raise HTTPException(401, "missing token")
    try:
        claims = jwt.decode(authorization[7:], SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(401, "invalid token")
    return claims["sub"]


def write(statements):
    """Runs (sql, args) pairs in one transaction."""
    conn = connection()
    if DB.startswith("sqlite:"):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                conn.execute(sql, args)
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
    else:
        with conn.transaction():
            for sql, args in statements:
                conn.execute(sql, args)


def audit(actor, action, target, justification=None):
    p = placeholder()
    sql = f"INSERT INTO audit_log (id, actor, action, target, justification, at) VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
    return sql, (str(uuid.uuid4()), actor, action, target, justification, time.time())


def fetch(record_id):
    p = placeholder()
    row = connection().execute(
        f"SELECT matter, public_fields, secret_fields FROM interviews WHERE id = {p}", (record_id,)
    ).fetchone()
    if row is None:
        raise HTTPException(404, "no such record")
    return row


class NewRecord(BaseModel):
    matter: str
    fields: dict


class Reveal(BaseModel):
    fields: list[str]
    reason: str
    purpose: str | None = None


@app.on_event("startup")
def startup():
    create_tables()


@app.post("/records", status_code=201)
def create(record: NewRecord, authorization: str = Header("")):
    user = current_user(authorization)
    public = {k: v for k, v in record.fields.items() if k in PUBLIC_FIELDS}
    secret = {k: encrypt_field(v) for k, v in record.fields.items() if k in SECRET_FIELDS}
    record_id = str(uuid.uuid4())
    p = placeholder()
    insert = (
        f"INSERT INTO interviews (id, matter, public_fields, secret_fields, created_at) VALUES ({p}, {p}, {p}, {p}, {p})",
        (record_id, record.matter, json.dumps(public), json.dumps(secret), time.time()),
    )
    write([insert, audit(user, "record.create", record_id)])
    return {"id": record_id, "fields": public}


@app.get("/records/{record_id}")
def read(record_id: str, authorization: str = Header("")):
    user = current_user(authorization)
    matter, public, _ = fetch(record_id)
    write([audit(user, "record.read", record_id)])
    return {"id": record_id, "matter": matter, "fields": json.loads(public)}


@app.post("/records/{record_id}/decrypt")
def decrypt(record_id: str, reveal: Reveal, authorization: str = Header("")):
    user = current_user(authorization)
    if len(reveal.reason.strip()) < 20:
        raise HTTPException(400, "reason: at least 20 characters")
    _, _, secret = fetch(record_id)
    stored = json.loads(secret)
    revealed = {name: decrypt_field(stored[name]) for name in reveal.fields if name in stored}
    write([audit(user, "record.decrypt", record_id, reveal.reason)])
    return {"decrypted_fields": revealed}
