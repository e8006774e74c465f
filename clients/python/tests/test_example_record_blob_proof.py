"""The end-to-end example (a record, a blob, an audit proof) runs as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "record_blob_proof.py"


def test_the_record_blob_and_proof_example_runs() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "proven in the tree" in result.stdout and "a tampered checkpoint is refused" in result.stdout
