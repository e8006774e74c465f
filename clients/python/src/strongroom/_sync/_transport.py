# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""One place where requests go out: credentials on every request, a user's
tokens refreshed before they expire (and once more on a 401), retries for
idempotent calls, and problem answers turned into exceptions.

This file is the source of truth; ``strongroom/_sync/_transport.py`` is
generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Callable, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from .._credentials import ApiKey, BearerToken, Credentials, Tokens
from .._retry import IDEMPOTENT_METHODS, RETRYABLE_STATUSES, Retry, retry_after_seconds
from ..errors import ProblemError, TransportError, Unauthenticated, problem_error

__all__ = ["Transport"]

USER_AGENT = "strongroom-python/0.1"

Params = Mapping[str, str | int | bool | None]


class Transport:
    """Sends requests for one base URL and one set of credentials."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        retry: Retry | None = None,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        on_refresh: Callable[[Tokens], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.retry = retry or Retry()
        self._owns_http = http is None
        self._http = http or httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self._on_refresh = on_refresh
        self._refresh_lock = threading.Lock()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Sends one call and returns its successful answer, read in full.

        ``idempotent`` defaults to what the method says (GET, PUT, DELETE…);
        pass ``True`` for a POST that changes nothing (transit encrypt,
        introspection) so it is retried too.
        """
        request = self._http.build_request(
            method, path, params=_clean(params), json=json, data=data, content=content, headers=headers
        )
        response = self._send(request, idempotent=idempotent, authenticated=authenticated, stream=False)
        return response

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Iterator[httpx.Response]:
        """Sends one call and yields its successful answer unread, for
        streaming a blob down (``response.iter_bytes()``) or up (an iterator
        ``content``, which is never retried: it cannot be replayed)."""
        request = self._http.build_request(method, path, params=_clean(params), content=content, headers=headers)
        replayable = content is None or isinstance(content, bytes)
        response = self._send(
            request,
            idempotent=idempotent if replayable else False,
            authenticated=True,
            stream=True,
            replayable=replayable,
        )
        try:
            yield response
        finally:
            response.close()

    def _send(
        self,
        request: httpx.Request,
        *,
        idempotent: bool | None,
        authenticated: bool,
        stream: bool,
        replayable: bool = True,
    ) -> httpx.Response:
        retryable = request.method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        refreshed = False
        attempt = 0
        while True:
            if authenticated:
                self._authenticate(request)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as error:
                if retryable and attempt + 1 < self.retry.attempts:
                    time.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise TransportError(f"{request.method} {request.url.path}: {type(error).__name__}") from error
            if response.status_code < 400:
                return response
            if stream:
                response.read()
                response.close()
            # A body streamed from an iterator is spent: sent again after a
            # refresh it would arrive empty or cut short, so the 401 stands.
            if response.status_code == 401 and authenticated and replayable and not refreshed and self._can_refresh():
                refreshed = True
                self.refresh()
                continue
            if response.status_code in RETRYABLE_STATUSES and retryable and attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.delay(attempt, retry_after_seconds(response.headers.get("Retry-After"))))
                attempt += 1
                continue
            raise _problem(response)

    def _authenticate(self, request: httpx.Request) -> None:
        credentials = self.credentials
        if credentials is None:
            return
        if isinstance(credentials, Tokens) and credentials.expiring() and credentials.refresh_token:
            self.refresh(stale=credentials)
            credentials = self.credentials
        if isinstance(credentials, (ApiKey, BearerToken, Tokens)):
            for name in ("Authorization", "X-API-Key"):
                request.headers.pop(name, None)
            request.headers.update(credentials.headers())

    def _can_refresh(self) -> bool:
        return isinstance(self.credentials, Tokens) and bool(self.credentials.refresh_token)

    def refresh(self, stale: Tokens | None = None) -> Tokens:
        """Swaps the session's token pair for a new one (the refresh token is
        single use). Concurrent callers share one refresh: whoever finds the
        pair already replaced uses the new one."""
        with self._refresh_lock:
            current = self.credentials
            if not isinstance(current, Tokens) or not current.refresh_token:
                raise Unauthenticated(401, {"code": "unauthenticated", "detail": "no refresh token to renew with"})
            if stale is not None and current is not stale:
                return current
            request = self._http.build_request(
                "POST", "/v1/auth/refresh", json={"refresh_token": current.refresh_token}
            )
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                raise TransportError(f"POST /v1/auth/refresh: {type(error).__name__}") from error
            if response.status_code >= 400:
                raise _problem(response)
            tokens = Tokens.from_answer(response.json())
            self.credentials = tokens
            if self._on_refresh is not None:
                self._on_refresh(tokens)
            return tokens


def _problem(response: httpx.Response) -> ProblemError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"detail": response.text[:200]}
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if retry_after is not None:
        body.setdefault("retry_after", retry_after)
    body.setdefault("request_id", response.headers.get("X-Request-Id"))
    return problem_error(response.status_code, body)


def _clean(params: Params | None) -> dict[str, str | int] | None:
    """Drops unset parameters and spells booleans as the server reads them."""
    if params is None:
        return None
    out: dict[str, str | int] = {}
    for name, value in params.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
