"""The keyring and its jobs (docs/keys.md): rotation, states, retiring old
versions, and the rewrap/re-encryption jobs that move data to new keys.
Needs ``key.manage`` (API-key scope ``keys:manage``)."""

from __future__ import annotations

import asyncio
import builtins
from time import monotonic

from .._paths import path
from ..admin_models import Job, Key, KeyStateChange
from ._transport import AsyncTransport

__all__ = ["AsyncJobs", "AsyncKeys"]


class AsyncKeys:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def list(self) -> builtins.list[Key]:
        """Every key, without versions."""
        body = (await self._transport.request("GET", "/v1/keys")).json()
        return [Key.from_json(k) for k in body["keys"]]

    async def get(self, name: str) -> Key:
        """One key with its versions, their census and its recent jobs."""
        return Key.from_json((await self._transport.request("GET", path("/v1/keys/{}", name))).json())

    async def rotate(self, name: str) -> Key:
        """A new version; for a matter key ``jobs[0]`` is the rewrap job it started."""
        return Key.from_json((await self._transport.request("POST", path("/v1/keys/{}/rotate", name))).json())

    async def rewrap(self, name: str) -> Job:
        """Starts a rewrap job again (after one failed)."""
        return Job.from_json((await self._transport.request("POST", path("/v1/keys/{}/rewrap", name))).json())

    async def set_state(self, name: str, state: str, *, justification: str) -> KeyStateChange:
        """``active``, ``decrypt_only``, ``disabled``, ``compromised`` (a
        re-encryption job for a matter key) or ``destroyed`` (final)."""
        answer = await self._transport.request(
            "POST", path("/v1/keys/{}/state", name), json={"state": state, "justification": justification}
        )
        return KeyStateChange.from_json(answer.json())

    async def configure(
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
            (await self._transport.request("POST", path("/v1/keys/{}/config", name), json=body)).json()
        )


class AsyncJobs:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def get(self, id: str) -> Job:
        return Job.from_json((await self._transport.request("GET", path("/v1/jobs/{}", id))).json())

    async def wait(self, id: str, *, timeout: float = 300.0, interval: float = 0.5) -> Job:
        """Polls job ``id`` until it is ``done`` or ``failed`` and returns it;
        :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = monotonic() + timeout
        while True:
            job = await self.get(id)
            if job.finished:
                return job
            if monotonic() >= deadline:
                raise TimeoutError(f"job {id} is still {job.state} after {timeout:.0f} s ({job.percent}%)")
            await asyncio.sleep(interval)
