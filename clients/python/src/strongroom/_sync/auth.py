# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""Sessions and tokens: logging in (with a second factor), logging out,
introspecting a token an application was handed, and the caller's own view."""

from __future__ import annotations

from typing import Any

from .._credentials import Tokens
from ..errors import MfaRequired
from ..models import Introspection, Me, TotpEnrollment
from ._transport import Transport

__all__ = ["Auth"]


class Auth:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def login(self, username: str, password: str, *, totp: str | None = None) -> Tokens:
        """Logs in and makes this client act as the user from now on.

        With a second factor enrolled, pass the current ``totp`` code (or a
        recovery code); without it :class:`MfaRequired` is raised.
        """
        body = (
            self._transport.request(
                "POST", "/v1/auth/login", json={"username": username, "password": password}, authenticated=False
            )
        ).json()
        if body.get("mfa_required"):
            if totp is None:
                raise MfaRequired(403, {"code": "mfa_required", "detail": "this account needs its second factor"})
            body = (
                self._transport.request(
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

    def refresh(self) -> Tokens:
        """Swaps the session's tokens for new ones now (the client also does
        this by itself before they expire)."""
        return self._transport.refresh()

    def logout(self) -> None:
        """Ends the session: its access and refresh tokens stop working at once."""
        self._transport.request("POST", "/v1/auth/logout")
        self._transport.credentials = None

    def introspect(self, token: str) -> Introspection:
        """Asks whether ``token`` (an access token or an API key an
        application was handed) is active now, and whose it is. Needs a key
        with the ``auth:introspect`` scope."""
        response = self._transport.request("POST", "/v1/auth/introspect", data={"token": token}, idempotent=True)
        return Introspection.from_json(response.json())

    def enroll_totp(self, enrollment_token: str | None = None) -> TotpEnrollment:
        """Starts enrolling an authenticator app: with the ``enrollment_token``
        a first login answered (``MfaRequired.problem["enrollment_token"]``),
        or for the logged-in caller. Show ``otpauth_uri`` (or ``qr_png``) to
        the user, then :meth:`confirm_totp` with a code from the app."""
        body: dict[str, Any] = {}
        if enrollment_token is not None:
            body["enrollment_token"] = enrollment_token
        answer = self._transport.request(
            "POST", "/v1/auth/totp/enroll", json=body, authenticated=enrollment_token is None
        )
        return TotpEnrollment.from_json(answer.json())

    def confirm_totp(self, code: str, enrollment_token: str | None = None) -> list[str]:
        """Finishes enrolment with a current code; returns the recovery codes
        (shown once: the user keeps them). After an enrolment that began at
        login, log in again with ``totp=``."""
        body: dict[str, Any] = {"code": code}
        if enrollment_token is not None:
            body["enrollment_token"] = enrollment_token
        answer = self._transport.request(
            "POST", "/v1/auth/totp/confirm", json=body, authenticated=enrollment_token is None
        )
        return [str(c) for c in answer.json()["recovery_codes"]]

    def disable_totp(self, code: str) -> None:
        """Removes the caller's second factor (a current code proves it is them)."""
        self._transport.request("DELETE", "/v1/auth/totp", json={"code": code})

    def step_up(self, code: str) -> int:
        """Proves a second factor now on this session (a current TOTP code),
        for the actions that demand a recent one (decrypt under production
        profiles, key and role changes); returns the new ``mfa_at``."""
        answer = self._transport.request("POST", "/v1/auth/step-up", json={"code": code})
        return int(answer.json()["mfa_at"])

    def me(self) -> Me:
        """The caller, their matters and permissions."""
        return Me.from_json((self._transport.request("GET", "/v1/users/me")).json())

    def jwks(self) -> dict[str, Any]:
        """The signing keys access tokens are verified with (cache them)."""
        body: dict[str, Any] = (
            self._transport.request("GET", "/.well-known/jwks.json", authenticated=False)
        ).json()
        return body

    def openid_configuration(self) -> dict[str, Any]:
        body: dict[str, Any] = (
            self._transport.request("GET", "/.well-known/openid-configuration", authenticated=False)
        ).json()
        return body
