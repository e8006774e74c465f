"""Sessions and tokens: logging in (with a second factor), logging out,
introspecting a token an application was handed, and the caller's own view."""

from __future__ import annotations

from typing import Any

from .._credentials import Tokens
from ..errors import MfaRequired
from ..models import Introspection, Me, TotpEnrollment
from ._transport import AsyncTransport

__all__ = ["AsyncAuth"]


class AsyncAuth:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def login(self, username: str, password: str, *, totp: str | None = None) -> Tokens:
        """Logs in and makes this client act as the user from now on.

        With a second factor enrolled, pass the current ``totp`` code (or a
        recovery code); without it :class:`MfaRequired` is raised.
        """
        body = (
            await self._transport.request(
                "POST", "/v1/auth/login", json={"username": username, "password": password}, authenticated=False
            )
        ).json()
        if body.get("mfa_required"):
            if totp is None:
                raise MfaRequired(403, {"code": "mfa_required", "detail": "this account needs its second factor"})
            body = (
                await self._transport.request(
                    "POST",
                    "/v1/auth/mfa",
                    json={"mfa_token": body["mfa_token"], "code": totp},
                    authenticated=False,
                )
            ).json()
        elif body.get("mfa_enrollment_required"):
            raise MfaRequired(
                403,
                {
                    "code": "mfa_required",
                    "detail": "this account must enrol a second factor first (POST /v1/auth/totp/enroll)",
                    "enrollment_token": body.get("enrollment_token"),
                },
            )
        tokens = Tokens.from_answer(body)
        self._transport.credentials = tokens
        return tokens

    async def refresh(self) -> Tokens:
        """Swaps the session's tokens for new ones now (the client also does
        this by itself before they expire)."""
        return await self._transport.refresh()

    async def logout(self) -> None:
        """Ends the session: its access and refresh tokens stop working at once."""
        await self._transport.request("POST", "/v1/auth/logout")
        self._transport.credentials = None

    async def introspect(self, token: str) -> Introspection:
        """Asks whether ``token`` (an access token or an API key an
        application was handed) is active now, and whose it is. Needs a key
        with the ``auth:introspect`` scope."""
        response = await self._transport.request("POST", "/v1/auth/introspect", data={"token": token}, idempotent=True)
        return Introspection.from_json(response.json())

    async def enroll_totp(self, enrollment_token: str | None = None) -> TotpEnrollment:
        """Starts enrolling an authenticator app: with the ``enrollment_token``
        a first login answered (``MfaRequired.problem["enrollment_token"]``),
        or for the logged-in caller. Show ``otpauth_uri`` (or ``qr_png``) to
        the user, then :meth:`confirm_totp` with a code from the app."""
        body: dict[str, Any] = {}
        if enrollment_token is not None:
            body["enrollment_token"] = enrollment_token
        answer = await self._transport.request(
            "POST", "/v1/auth/totp/enroll", json=body, authenticated=enrollment_token is None
        )
        return TotpEnrollment.from_json(answer.json())

    async def confirm_totp(self, code: str, enrollment_token: str | None = None) -> list[str]:
        """Finishes enrolment with a current code; returns the recovery codes
        (shown once: the user keeps them). After an enrolment that began at
        login, log in again with ``totp=``."""
        body: dict[str, Any] = {"code": code}
        if enrollment_token is not None:
            body["enrollment_token"] = enrollment_token
        answer = await self._transport.request(
            "POST", "/v1/auth/totp/confirm", json=body, authenticated=enrollment_token is None
        )
        return [str(c) for c in answer.json()["recovery_codes"]]

    async def disable_totp(self, code: str) -> None:
        """Removes the caller's second factor (a current code proves it is them)."""
        await self._transport.request("DELETE", "/v1/auth/totp", json={"code": code})

    async def step_up(self, code: str) -> int:
        """Proves a second factor now on this session (a current TOTP code),
        for the actions that demand a recent one (decrypt under production
        profiles, key and role changes); returns the new ``mfa_at``."""
        answer = await self._transport.request("POST", "/v1/auth/step-up", json={"code": code})
        return int(answer.json()["mfa_at"])

    async def me(self) -> Me:
        """The caller, their matters and permissions."""
        return Me.from_json((await self._transport.request("GET", "/v1/users/me")).json())

    async def jwks(self) -> dict[str, Any]:
        """The signing keys access tokens are verified with (cache them)."""
        body: dict[str, Any] = (
            await self._transport.request("GET", "/.well-known/jwks.json", authenticated=False)
        ).json()
        return body

    async def openid_configuration(self) -> dict[str, Any]:
        body: dict[str, Any] = (
            await self._transport.request("GET", "/.well-known/openid-configuration", authenticated=False)
        ).json()
        return body
