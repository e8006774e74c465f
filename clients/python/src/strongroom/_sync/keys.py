# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""The keyring and its jobs (docs/keys.md): rotation, states, retiring old
versions, and the rewrap/re-encryption jobs that move data to new keys.
Needs ``key.manage`` (API-key scope ``keys:manage``)."""

from __future__ import annotations

import time
import builtins
from time import monotonic

from .._paths import path
from ..admin_models import Job, Key, KeyStateChange
from ._transport import Transport

__all__ = ["Jobs", "Keys"]


class Keys:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self) -> builtins.list[Key]:
        """Every key, without versions."""
        body = (self._transport.request("GET", "/v1/keys")).json()
        return [Key.from_json(k) for k in body["keys"]]

    def get(self, name: str) -> Key:
        """One key with its versions, their census and its recent jobs."""
        return Key.from_json((self._transport.request("GET", path("/v1/keys/{}", name))).json())

    def rotate(self, name: str) -> Key:
        """A new version; for a matter key ``jobs[0]`` is the rewrap job it started."""
        return Key.from_json((self._transport.request("POST", path("/v1/keys/{}/rotate", name))).json())

    def rewrap(self, name: str) -> Job:
        """Starts a rewrap job again (after one failed)."""
        return Job.from_json((self._transport.request("POST", path("/v1/keys/{}/rewrap", name))).json())

    def set_state(self, name: str, state: str, *, justification: str) -> KeyStateChange:
        """``active``, ``decrypt_only``, ``disabled``, ``compromised`` (a
        re-encryption job for a matter key) or ``destroyed`` (final)."""
        answer = self._transport.request(
            "POST", path("/v1/keys/{}/state", name), json={"state": state, "justification": justification}
        )
        return KeyStateChange.from_json(answer.json())

    def configure(
        self,
        name: str,
        *,
        min_decryption_version: int | None = None,
        deletion_allowed: bool | None = None,
        rotation_period_seconds: int | None = None,
    ) -> Key:
        """Changes what is given. Check the census before raising
        ``min_decryption_version``: what older versions protect becomes unreadable."""
        given = {
            "min_decryption_version": min_decryption_version,
            "deletion_allowed": deletion_allowed,
            "rotation_period_seconds": rotation_period_seconds,
        }
        body = {k: v for k, v in given.items() if v is not None}
        return Key.from_json(
            (self._transport.request("POST", path("/v1/keys/{}/config", name), json=body)).json()
        )


class Jobs:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get(self, id: str) -> Job:
        return Job.from_json((self._transport.request("GET", path("/v1/jobs/{}", id))).json())

    def wait(self, id: str, *, timeout: float = 300.0, interval: float = 0.5) -> Job:
        """Polls job ``id`` until it is ``done`` or ``failed`` and returns it;
        :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = monotonic() + timeout
        while True:
            job = self.get(id)
            if job.finished:
                return job
            if monotonic() >= deadline:
                raise TimeoutError(f"job {id} is still {job.state} after {timeout:.0f} s ({job.percent}%)")
            time.sleep(interval)
