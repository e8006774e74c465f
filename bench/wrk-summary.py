"""Reads wrk's --latency output on stdin and prints "requests/s p50_ms p99_ms".
Fails (printing the output) when wrk saw answers other than 2xx, so a broken
run is never quoted as a number. Used by the bench/*.sh scripts."""

import re
import sys

out = sys.stdin.read()
if "Non-2xx" in out:
    sys.stderr.write("non-2xx answers:\n" + out)
    sys.exit(1)


def ms(label):
    m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{rps:.0f} {ms('50'):.2f} {ms('99'):.2f}")
