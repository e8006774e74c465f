# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.
"""The asynchronous client (the source the synchronous one is generated from)."""

from .client import Client

__all__ = ["Client"]
