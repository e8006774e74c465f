"""The lock each flavour of the client uses, under names ``scripts/unasync.py``
maps onto each other (``AsyncLock`` → ``Lock``), for generated modules that
need a lock but neither sleep nor ``import asyncio``."""

from __future__ import annotations

import asyncio
import threading

__all__ = ["AsyncLock", "Lock"]

AsyncLock = asyncio.Lock
Lock = threading.Lock
