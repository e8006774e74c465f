"""Policies and authorization explanations (docs/authorization.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._model import Model

__all__ = ["Explanation", "PolicySet", "WhoCan"]


@dataclass(frozen=True)
class PolicySet(Model):
    """The Cedar policies in force: the defaults, the policy directory's
    files and the API document (``sources``, each ``{origin, text}``), and
    every policy ``loaded`` (``{id, effect, description}``)."""

    schema: str
    sources: tuple[dict[str, str], ...] = ()
    version: int = 0
    updated_at: int | None = None
    updated_by: str | None = None
    loaded: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api_document(self) -> str:
        """The API-managed policies' text ('' when there are none)."""
        return next((s["text"] for s in self.sources if s.get("origin") == "api"), "")


@dataclass(frozen=True)
class Explanation(Model):
    """Why a principal may or may not take an action: the permits that
    allowed, or the forbids that denied (empty: no policy permits)."""

    allowed: bool
    decision: str
    reasons: tuple[dict[str, Any], ...] = ()
    errors: tuple[str, ...] = ()
    principal: dict[str, Any] = field(default_factory=dict)
    elevated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WhoCan(Model):
    """Every enabled user and key that can take ``action`` on ``matter``, and why (``principals``)."""

    action: str
    matter: str
    assuming: str = ""
    principals: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
