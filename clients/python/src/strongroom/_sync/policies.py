# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Policies and their explanations (docs/authorization.md): the Cedar
policies in force, replacing the API-managed document (``policy.manage``:
admins only), and asking why a principal may or may not act
(``authz.explain``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..authz_models import Explanation, PolicySet, WhoCan
from ._transport import Transport

__all__ = ["Authz", "Policies"]


class Policies:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get(self) -> PolicySet:
        return PolicySet.from_json((self._transport.request("GET", "/v1/policies")).json())

    def replace(self, policies: str, *, justification: str) -> PolicySet:
        """Replaces the API-managed policies with ``policies`` (Cedar; empty
        removes them all). Invalid ones, or ones that break an authorization
        invariant, raise :class:`strongroom.errors.InvalidPolicy` listing each
        problem, and change nothing."""
        body = {"policies": policies, "justification": justification}
        return PolicySet.from_json((self._transport.request("PUT", "/v1/policies", json=body)).json())


class Authz:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def explain(
        self,
        principal: str,
        action: str,
        resource: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> Explanation:
        """Would ``principal`` (``user:<id>``, ``api_key:<id>``) be allowed
        ``action`` on ``resource`` (``{"type": "record", "id": …, "matter": …,
        "collection": …}``, ``{"type": "matter", "id": …}``…)? ``context``
        assumes facts of the request (``time``, ``ip``, ``mfa_age_seconds``,
        ``justification``, ``purpose``). Changes nothing."""
        body: dict[str, Any] = {"principal": principal, "action": action, "resource": dict(resource)}
        if context:
            body["context"] = dict(context)
        answer = self._transport.request("POST", "/v1/authz/explain", json=body, idempotent=True)
        return Explanation.from_json(answer.json())

    def who_can(self, action: str, matter: str) -> WhoCan:
        """Every enabled principal that can take ``action`` on ``matter``, with the policies that allow it."""
        answer = self._transport.request("GET", "/v1/authz/who-can", params={"action": action, "matter": matter})
        return WhoCan.from_json(answer.json())
