#!/usr/bin/env python3
"""Fails when a workspace crate gains a dependency its layer forbids.

The crates and what each may import are drawn in docs/architecture.md; this
is that drawing as a check, run by .ci/run. Reads `cargo metadata --no-deps`
(declared dependencies only, no network).
"""
import json
import subprocess
import sys

# Workspace crates each crate may depend on (normal and build dependencies;
# dev-dependencies are free: tests may drive anything).
ALLOWED = {
    "strongroom-proto": set(),
    "strongroom-crypto": set(),
    "strongroom-policy": set(),
    "strongroom-config": set(),
    "strongroom-redact": set(),
    "strongroom-core": {"strongroom-crypto", "strongroom-policy", "strongroom-redact"},
    "strongroom-store": {"strongroom-core", "strongroom-crypto"},
    "strongroom-blobs": {"strongroom-core", "strongroom-crypto"},
    "strongroom-integrations": {"strongroom-core", "strongroom-crypto", "strongroom-config", "strongroom-proto"},
    "strongroom-server": {"strongroom-core", "strongroom-crypto", "strongroom-proto"},
    "strongroom": None,  # the binary wires everything
    "strongroom-testkit": set(),  # drives the binary from outside, over HTTP
}

# Outside crates that mean I/O frameworks: the domain and its pure
# neighbours must stay free of them (ports in core, adapters outside).
FRAMEWORKS = {"axum", "hyper", "hyper-util", "tower", "tower-http", "sqlx", "rusqlite", "reqwest",
              "object_store", "cryptoki", "tokio-rustls", "rustls", "clap"}
FRAMEWORK_FREE = {"strongroom-proto", "strongroom-crypto", "strongroom-policy", "strongroom-config",
                  "strongroom-core", "strongroom-redact"}


def main() -> int:
    metadata = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"], text=True))
    problems = []
    for package in metadata["packages"]:
        name = package["name"]
        if name not in ALLOWED:
            problems.append(f"{name}: a new workspace crate; give it a layer in scripts/check-layers.py "
                            "and docs/architecture.md")
            continue
        for dependency in package["dependencies"]:
            if dependency["kind"] == "dev":
                continue
            target = dependency["name"]
            allowed = ALLOWED[name]
            if target.startswith("strongroom") and allowed is not None and target not in allowed:
                problems.append(f"{name} depends on {target}, which its layer may not import")
            if name in FRAMEWORK_FREE and target in FRAMEWORKS:
                problems.append(f"{name} depends on {target}: keep I/O frameworks behind a port")
    for problem in problems:
        print(f"check-layers: {problem}", file=sys.stderr)
    if not problems:
        print(f"check-layers: {len(metadata['packages'])} crates keep to their layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
