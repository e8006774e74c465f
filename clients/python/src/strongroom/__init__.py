"""Strongroom's Python client.

    from strongroom import Client
    client = Client("http://127.0.0.1:8200", api_key=os.environ["STRONGROOM_API_KEY"])
    ciphertext = client.transit.encrypt("transcripts", b"...")

:class:`Client` is synchronous, :class:`AsyncClient` the same API for
asyncio; errors are :mod:`strongroom.errors`.
"""

from ._async.client import AsyncClient
from ._credentials import ApiKey, BearerToken, Tokens
from ._retry import Retry
from ._sync.client import Client
from .errors import ProblemError, StrongroomError, TransportError

__all__ = [
    "ApiKey",
    "AsyncClient",
    "BearerToken",
    "Client",
    "ProblemError",
    "Retry",
    "StrongroomError",
    "Tokens",
    "TransportError",
]
__version__ = "0.1.0"
