"""Request paths built from caller-supplied names and ids.

Every name or id goes into its path segment percent-encoded, and ``.``,
``..`` and the empty string are refused: an id an application takes from its
own user (``"../../users"``, ``"x?list=true"``) must never turn a request for
one record into a request for another route under the application's
credentials.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["path"]


def segment(value: str | int) -> str:
    text = str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"{text!r} is not a name or id")
    return quote(text, safe="")


def path(template: str, *parts: str | int) -> str:
    """``template`` with each ``{}`` replaced by a part, one path segment each."""
    return template.format(*(segment(part) for part in parts))
