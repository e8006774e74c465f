"""Collections, records and matters as the server answers them
(docs/records.md, docs/authorization.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._model import Model

__all__ = ["Collection", "CollectionField", "ExportedRecord", "Grant", "Matter", "Record", "SubjectErasure"]


@dataclass(frozen=True)
class CollectionField(Model):
    """One declared field: ``type`` (``string``, ``text``, ``number``,
    ``bool``, ``timestamp``, ``json``, ``vector``, ``blob``) and
    ``sensitivity`` (``public``, ``redacted``, ``secret``)."""

    name: str
    type: str
    sensitivity: str
    pii: str | None = None
    required: bool = False
    searchable: bool = False
    max_bytes: int | None = None
    content_types: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        """Whether its values are sealed (only ``…/decrypt`` reveals them)."""
        return self.sensitivity != "public"


@dataclass(frozen=True)
class Collection(Model):
    """A collection's schema; ``revision`` grows by one per change."""

    name: str
    fields: tuple[CollectionField, ...]
    track_access: bool = False
    revision: int = 0
    created_at: int = 0
    updated_at: int = 0
    default_ttl_seconds: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _nested: ClassVar[Mapping[str, type[Model]]] = {"fields": CollectionField}

    def get_field(self, name: str) -> CollectionField:
        """The declared field ``name`` (KeyError when there is none)."""
        for declared in self.fields:
            if declared.name == name:
                return declared
        raise KeyError(name)


@dataclass(frozen=True)
class Record(Model):
    """The caller's view of a record: ``fields`` holds public values and the
    redacted renditions the caller may see (``redacted_fields``); the
    encrypted fields not shown are named in ``withheld_fields`` and only
    ``records.decrypt`` reveals them."""

    id: str
    collection: str
    matter: str
    fields: dict[str, Any]
    redacted_fields: tuple[str, ...] = ()
    withheld_fields: tuple[str, ...] = ()
    created_at: int = 0
    updated_at: int = 0
    expires_at: int | None = None
    legal_hold: bool = False
    access_count: int | None = None
    last_accessed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Matter(Model):
    """A matter: the unit data access is granted on."""

    id: str
    name: str
    created_at: int = 0
    created_by: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Grant(Model):
    """A standing grant of ``principal`` (``user:<id>`` or ``api_key:<id>``) on ``matter``."""

    matter: str
    principal: str
    granted_by: str = ""
    justification: str = ""
    created_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportedRecord(Model):
    """One record of a subject export, every field in plaintext (handle as such)."""

    collection: str
    id: str
    matter: str
    fields: dict[str, Any] = field(repr=False, default_factory=dict)
    created_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubjectErasure(Model):
    """What a subject erasure shredded, and what it kept for legal hold
    (each a ``{"collection", "id"}``)."""

    erased: tuple[dict[str, str], ...] = ()
    held: tuple[dict[str, str], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
