"""Users, sessions, API keys, roles, access requests, keys and jobs as the
server answers them (docs/identity.md, docs/authorization.md, docs/keys.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._model import Model

__all__ = [
    "AccessRequest",
    "ApiKeyInfo",
    "IssuedApiKey",
    "Job",
    "Key",
    "KeyStateChange",
    "KeyVersion",
    "PasswordReset",
    "Role",
    "Session",
    "User",
]


@dataclass(frozen=True)
class User(Model):
    id: str
    username: str
    email: str = ""
    full_name: str = ""
    roles: tuple[str, ...] = ()
    disabled: bool = False
    locked: bool = False
    mfa_enabled: bool = False
    mfa_required: bool = False
    created_at: int = 0
    updated_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> str:
        """``user:<id>``, as grants and access requests name users."""
        return f"user:{self.id}"


@dataclass(frozen=True)
class Session(Model):
    """A live login session; ``current`` marks the one making the request."""

    id: str
    user_id: str
    created_at: int = 0
    last_seen_at: int = 0
    expires_at: int = 0
    ip: str | None = None
    user_agent: str | None = None
    mfa_at: int | None = None
    current: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, repr=False)
class PasswordReset(Model):
    """A single-use password-reset token, shown once: hand it to the user over a trusted channel."""

    reset_token: str
    expires_at: int
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PasswordReset(reset_token=…, expires_at={self.expires_at})"


@dataclass(frozen=True)
class ApiKeyInfo(Model):
    """An API key without its secret; ``id`` is the middle of ``sr_<id>_<secret>``."""

    id: str
    name: str
    scopes: tuple[str, ...] = ()
    created_at: int = 0
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None
    use_count: int = 0
    allowed_cidrs: tuple[str, ...] = ()
    rate_limit_per_minute: int | None = None
    rate_limit_burst: int | None = None
    owner_user_id: str | None = None
    previous_secret_valid_until: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> str:
        """``api_key:<id>``, as grants name keys."""
        return f"api_key:{self.id}"


@dataclass(frozen=True, repr=False)
class IssuedApiKey:
    """A key just created or rotated with its full ``secret``
    (``sr_<id>_<secret>``), shown this once: store it now. Never printed."""

    key: ApiKeyInfo
    secret: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> IssuedApiKey:
        rest = {k: v for k, v in body.items() if k != "secret"}
        return cls(key=ApiKeyInfo.from_json(rest), secret=str(body["secret"]))

    def __repr__(self) -> str:
        return f"IssuedApiKey(key={self.key!r}, secret=…)"


@dataclass(frozen=True)
class Role(Model):
    """A role: built-in, from the configuration file, or defined through the API (``source``)."""

    name: str
    description: str = ""
    source: str = ""
    permissions: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccessRequest(Model):
    """A request for elevated, time-bound access; ``status`` is ``pending``,
    ``approved``, ``denied`` or ``expired``."""

    id: str
    requester: str
    action: str
    matter: str
    status: str
    duration_minutes: int = 0
    justification: str = ""
    requester_name: str = ""
    record: str | None = None
    purpose: str | None = None
    created_at: int = 0
    decided_by: str | None = None
    decided_at: int | None = None
    note: str | None = None
    expires_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job(Model):
    """A key job (``rewrap`` or ``reencrypt``); ``state`` ends ``done`` or ``failed`` (with ``error``)."""

    id: str
    kind: str
    state: str
    key: str = ""
    target: str = ""
    total: int = 0
    done: int = 0
    percent: int = 0
    error: str | None = None
    created_by: str = ""
    created_at: int = 0
    updated_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


@dataclass(frozen=True)
class KeyVersion(Model):
    """A key version with its census: how many data keys or ciphertexts it still protects."""

    version: int
    created_at: int = 0
    data_keys: int | None = None
    ciphertexts: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Key(Model):
    """A keyring key (matter keys, transit keys, the server's own); never its material."""

    name: str
    purpose: str
    algorithm: str
    state: str
    latest_version: int = 0
    min_decryption_version: int = 0
    rotation_period_seconds: int | None = None
    deletion_allowed: bool = False
    created_at: int = 0
    updated_at: int = 0
    versions: tuple[KeyVersion, ...] = ()
    census: str | None = None
    jobs: tuple[Job, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    _nested: ClassVar[Mapping[str, type[Model]]] = {"versions": KeyVersion, "jobs": Job}


@dataclass(frozen=True)
class KeyStateChange(Model):
    """A state change's answer: the key, for ``compromised`` its re-encryption
    job, for ``destroyed`` a warning of what became unreadable."""

    key: Key
    warning: str | None = None
    job: Job | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _nested: ClassVar[Mapping[str, type[Model]]] = {"key": Key, "job": Job}
