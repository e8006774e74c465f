"""What the server answers, as typed values. Each model keeps the answer's
other members in ``extra`` so a field added by a newer server is not lost."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DataKey", "Introspection", "LoggedEvents", "Me", "TotpEnrollment"]


@dataclass(frozen=True)
class DataKey:
    """A fresh data key from transit: ``plaintext`` to encrypt with locally
    (keep it in memory only), ``ciphertext`` to store beside the data."""

    plaintext: bytes = field(repr=False)
    ciphertext: str
    key_version: int

    @classmethod
    def from_vault(cls, data: dict[str, Any]) -> DataKey:
        return cls(
            plaintext=base64.b64decode(data["plaintext"]),
            ciphertext=str(data["ciphertext"]),
            key_version=int(data.get("key_version", 0)),
        )


@dataclass(frozen=True)
class Introspection:
    """RFC 7662's answer: ``active`` and, when active, whose token it is
    (a user's access token: ``sub``, ``username``, ``roles``, ``matters``,
    ``session``; an API key: ``client_id``, ``scopes``)."""

    active: bool
    sub: str | None = None
    username: str | None = None
    token_type: str | None = None
    roles: tuple[str, ...] = ()
    matters: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    exp: int | None = None
    session: str | None = None
    client_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Introspection:
        known = {"active", "sub", "username", "token_type", "roles", "matters", "scopes", "exp", "session", "client_id"}
        return cls(
            active=bool(body.get("active")),
            sub=body.get("sub"),
            username=body.get("username"),
            token_type=body.get("token_type"),
            roles=tuple(body.get("roles") or ()),
            matters=tuple(body.get("matters") or ()),
            scopes=tuple(body.get("scopes") or ()),
            exp=body.get("exp"),
            session=body.get("session"),
            client_id=body.get("client_id"),
            extra={k: v for k, v in body.items() if k not in known},
        )


@dataclass(frozen=True)
class Me:
    """``GET /v1/users/me``: who the caller is, the matters they hold a grant
    on, and the actions they may take: ``service`` actions anywhere and, per
    matter, the actions on its data."""

    id: str
    username: str
    roles: tuple[str, ...]
    matters: tuple[str, ...]
    service_permissions: tuple[str, ...]
    matter_permissions: dict[str, tuple[str, ...]]
    user: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Me:
        user = {k: v for k, v in body.items() if k not in ("matters", "permissions")}
        permissions = body.get("permissions") or {}
        return cls(
            id=str(user.get("id", "")),
            username=str(user.get("username", "")),
            roles=tuple(user.get("roles") or ()),
            matters=tuple(body.get("matters") or ()),
            service_permissions=tuple(permissions.get("service") or ()),
            matter_permissions={
                str(entry["matter"]): tuple(entry.get("actions") or ()) for entry in permissions.get("matters") or ()
            },
            user=user,
        )

    def may(self, action: str, matter: str | None = None) -> bool:
        """Whether the caller may take ``action`` (e.g. ``record.decrypt``),
        anywhere or in ``matter``."""
        if action in self.service_permissions:
            return True
        return matter is not None and action in self.matter_permissions.get(matter, ())


@dataclass(frozen=True)
class TotpEnrollment:
    """An authenticator enrolment under way: the ``otpauth://`` URI (secret
    inside, so it is kept out of ``repr``), the same as a PNG QR code, and
    the token to confirm with when it began at login."""

    otpauth_uri: str = field(repr=False)
    qr_png: bytes = field(repr=False)
    enrollment_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TotpEnrollment:
        return cls(
            otpauth_uri=str(body["otpauth_uri"]),
            qr_png=base64.b64decode(body.get("qr_png") or ""),
            enrollment_token=body.get("enrollment_token"),
        )


@dataclass(frozen=True)
class LoggedEvents:
    """The answer to an ingestion: the log indices the batch was given."""

    count: int
    first_index: int
    last_index: int


# Area models live in modules of their own; they are importable from here
# too, each module's public names listed once, in its own `__all__`.
from . import admin_models, audit_models, authz_models, blob_models, record_models  # noqa: E402
from .admin_models import *  # noqa: E402, F403
from .audit_models import *  # noqa: E402, F403
from .authz_models import *  # noqa: E402, F403
from .blob_models import *  # noqa: E402, F403
from .record_models import *  # noqa: E402, F403

__all__ += record_models.__all__ + blob_models.__all__ + audit_models.__all__ + admin_models.__all__
__all__ += authz_models.__all__
