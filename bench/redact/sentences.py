#!/usr/bin/env python3
"""Writes N sentences (default 100,000) for the `strongroom redact` benchmark:
the labelled corpora's sentences without their markup, shuffled with a fixed
seed and repeated, so the mix of names, addresses, patterned data and plain
transcript lines is the corpora's.

    python3 bench/redact/sentences.py 100000 > /tmp/sentences.txt
"""
import pathlib
import random
import re
import sys

DATA = pathlib.Path(__file__).resolve().parents[2] / "crates" / "strongroom-redact" / "tests" / "data"
MARKUP = re.compile(r"\[\[[A-Z]+\|(.*?)\]\]")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sentences = []
    for path in sorted(DATA.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                sentences.append(MARKUP.sub(r"\1", line))
    rng = random.Random(22)
    out = []
    while len(out) < count:
        rng.shuffle(sentences)
        out.extend(sentences)
    sys.stdout.write("\n".join(out[:count]) + "\n")


if __name__ == "__main__":
    main()
