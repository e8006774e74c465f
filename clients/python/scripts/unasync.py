"""Generates the synchronous client (src/strongroom/_sync) from the
asynchronous one (src/strongroom/_async), so each API call is written once.

    python scripts/unasync.py          # rewrite _sync
    python scripts/unasync.py --check  # exit 1 if _sync is out of date (CI)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "strongroom"
SOURCE, TARGET = ROOT / "_async", ROOT / "_sync"

# Whole-word replacements, longest first so a shorter word never eats a longer one.
WORDS = {
    "AsyncClient": "Client",
    "AsyncTransport": "Transport",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "asynccontextmanager": "contextmanager",
    "aiter_bytes": "iter_bytes",
    "aiter_raw": "iter_raw",
    "aread": "read",
    "aclose": "close",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
    "_async": "_sync",
}
PATTERNS = [
    (re.compile(r"\basync def\b"), "def"),
    (re.compile(r"\basync with\b"), "with"),
    (re.compile(r"\basync for\b"), "for"),
    (re.compile(r"\bawait "), ""),
    (re.compile(r"\basyncio\.Lock\b"), "threading.Lock"),
    (re.compile(r"\basyncio\.sleep\b"), "time.sleep"),
    (re.compile(r"^import asyncio$", re.M), "import threading\nimport time"),
    (re.compile(r"\bAsync([A-Z]\w*)"), r"\1"),
    (
        re.compile(r"\b(" + "|".join(sorted(map(re.escape, WORDS), key=len, reverse=True)) + r")\b"),
        lambda m: WORDS[m.group(1)],
    ),
]
HEADER = "# Generated from strongroom/_async by scripts/unasync.py: edit the async source, not this file.\n"


def convert(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)  # type: ignore[arg-type]
    # asyncio is imported for its lock or its sleep; keep only what is used.
    if "threading." not in text:
        text = text.replace("import threading\n", "", 1)
    return HEADER + text


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    expected = {path.name: convert(path.read_text()) for path in sorted(SOURCE.glob("*.py"))}
    present = {path.name for path in TARGET.glob("*.py")} if TARGET.exists() else set()
    for name, text in expected.items():
        target = TARGET / name
        if not target.exists() or target.read_text() != text:
            stale.append(name)
            if not check:
                TARGET.mkdir(exist_ok=True)
                target.write_text(text)
    for name in present - set(expected):
        stale.append(name)
        if not check:
            (TARGET / name).unlink()
    if check and stale:
        print("src/strongroom/_sync is out of date (run scripts/unasync.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
