"""Exceptions: every error answer of the server is an RFC 9457 problem with a
stable ``code``; each becomes a :class:`ProblemError` subclass chosen by that
code, so applications branch on types (or ``error.code``), never on messages.

The class tree follows the server's codes (docs/api.md in the server's
repository). A code this client does not know yet still raises the class of
its status (404 → :class:`NotFound`), so a newer server does not break an
older client.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessRequestRequired",
    "AuditUnavailable",
    "BadRequest",
    "Conflict",
    "DecryptionFailed",
    "Forbidden",
    "InvalidRequest",
    "KeyNotFound",
    "LoginFailed",
    "MfaRequired",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "RateLimited",
    "ServerError",
    "StrongroomError",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "problem_error",
]


class StrongroomError(Exception):
    """Base of every error this package raises."""


class TransportError(StrongroomError):
    """The server could not be reached (connection refused, reset or timed
    out), after the retries an idempotent call is allowed."""


class ProblemError(StrongroomError):
    """The server answered a problem (status >= 400).

    ``code`` is the stable machine-readable reason; ``request_id`` is the id
    the server logged the request under (quote it to an operator);
    ``problem`` holds every member of the answer, e.g. ``policies`` on a 403
    or ``errors`` on an ``invalid_policy``.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code") or f"http_{status}")
        self.title: str = str(problem.get("title") or "")
        self.detail: str = str(problem.get("detail") or "")
        self.request_id: str | None = _optional_str(problem.get("request_id"))
        retry_after = problem.get("retry_after")
        self.retry_after: float | None = float(retry_after) if isinstance(retry_after, (int, float)) else None
        message = f"{status} {self.code}"
        if self.detail:
            message += f": {self.detail}"
        if self.request_id:
            message += f" (request {self.request_id})"
        super().__init__(message)


class BadRequest(ProblemError):
    """400: the request was refused as it stands; ``detail`` names the rule."""


class InvalidRequest(BadRequest):
    """400 ``invalid_request`` / ``malformed_json``: a field is missing, of the wrong type, or breaks a rule."""


class DecryptionFailed(BadRequest):
    """400 ``decryption_failed``: altered, malformed, or another context (never says which)."""


class Unauthenticated(ProblemError):
    """401: no credentials, or they are invalid, expired or revoked."""


class LoginFailed(Unauthenticated):
    """401 ``login_failed``: wrong username, password or code (one answer for all)."""


class InvalidResetToken(Unauthenticated):
    """401 ``invalid_reset_token``: the password-reset token is unknown, used or expired."""


class Forbidden(ProblemError):
    """403: authenticated but not allowed. ``problem["policies"]`` names the forbidding policies."""


class MfaRequired(Forbidden):
    """403 ``mfa_required``: a second factor is needed (log in with ``totp``, or step up)."""


class AccessRequestRequired(Forbidden):
    """403 ``access_request_required``: this reveal needs an access request approved by someone else."""


class NotFound(ProblemError):
    """404: no such object, or one the caller may not know exists."""


class KeyNotFound(NotFound):
    """404 ``key_not_found``."""


class Conflict(ProblemError):
    """409: the change conflicts with the current state."""


class PayloadTooLarge(ProblemError):
    """413: the body is larger than the server accepts."""


class RateLimited(ProblemError):
    """429: slow down; ``retry_after`` says for how long when the server said."""


class ServerError(ProblemError):
    """5xx that is not a dependency outage: a server bug; quote ``problem["error_id"]``."""


class Unavailable(ProblemError):
    """503/507: a dependency (database, root key, audit log, storage) is down or full; retry later."""


class AuditUnavailable(Unavailable):
    """503 ``audit_unavailable``: the audit log cannot record, so the action was refused."""


_BY_CODE: dict[str, type[ProblemError]] = {
    "invalid_request": InvalidRequest,
    "malformed_json": InvalidRequest,
    "decryption_failed": DecryptionFailed,
    "login_failed": LoginFailed,
    "invalid_reset_token": InvalidResetToken,
    "mfa_required": MfaRequired,
    "access_request_required": AccessRequestRequired,
    "key_not_found": KeyNotFound,
    "audit_unavailable": AuditUnavailable,
}

_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
    503: Unavailable,
    507: Unavailable,
}


def problem_error(status: int, problem: dict[str, Any]) -> ProblemError:
    """The exception for a problem answer: by its code first, then by its status."""
    cls = _BY_CODE.get(str(problem.get("code")))
    if cls is None:
        cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ProblemError
    return cls(status, problem)


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# Codes of the blob and access-request routes (appended, so the tree above
# reads in the order it was written; the lookups below learn them).


class SelfApproval(Forbidden):
    """403 ``self_approval``: an access request is decided by someone other than its requester."""


class Gone(ProblemError):
    """410: the object existed and is lost."""


class BlobMissing(Gone):
    """410 ``blob_missing``: the record names a blob whose stored object is
    gone (data loss, alerted on the server); retrying cannot help."""


class UnsupportedMediaType(ProblemError):
    """415 ``unsupported_media_type``: a blob's ``Content-Type`` is missing or not one its field accepts."""


class RangeNotSatisfiable(ProblemError):
    """416 ``range_not_satisfiable``: the byte range lies outside the blob (``problem["detail"]`` gives its size)."""


class BlobIntegrityError(StrongroomError):
    """A whole blob downloaded does not hash to the SHA-256 the server stored
    with it, or arrived short: the bytes were altered or cut off on the way."""


class InvalidPolicy(BadRequest):
    """400 ``invalid_policy``: policies that do not parse or validate, or break
    an authorization invariant; ``problem["errors"]`` lists each (``origin``,
    ``line``, ``column``, ``policy``, ``message``)."""


class TransitBatchError(StrongroomError):
    """Some items of a transit batch failed (the others succeeded): ``errors``
    maps each failed item's position to the server's reason, ``results``
    holds every item's value (None where it failed)."""

    def __init__(self, errors: dict[int, str], results: list[Any]) -> None:
        self.errors = errors
        self.results = results
        first = min(errors)
        super().__init__(f"{len(errors)} of {len(results)} batch items failed; item {first}: {errors[first]}")


__all__ += [
    "BlobIntegrityError",
    "BlobMissing",
    "Gone",
    "InvalidPolicy",
    "RangeNotSatisfiable",
    "SelfApproval",
    "TransitBatchError",
    "UnsupportedMediaType",
]
_BY_CODE.update(
    {
        "self_approval": SelfApproval,
        "invalid_policy": InvalidPolicy,
        "blob_missing": BlobMissing,
        "unsupported_media_type": UnsupportedMediaType,
        "range_not_satisfiable": RangeNotSatisfiable,
    }
)
_BY_STATUS.update({410: Gone, 415: UnsupportedMediaType, 416: RangeNotSatisfiable})
