"""The asynchronous client (the source the synchronous one is generated from)."""

from .client import AsyncClient

__all__ = ["AsyncClient"]
