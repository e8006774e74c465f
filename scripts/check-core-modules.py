#!/usr/bin/env python3
"""Fails when strongroom-core's top-level modules import each other in a circle.

Core is layered (docs/architecture.md): ports and errors at the bottom, the
mechanisms (audit log, keyring, identity, authorization, records, jobs) above
them, the use cases that act for somebody on top. A circle between modules
means two of them can only be understood, tested and changed together. This
reads every `crate::<module>` path in core's code (comments and tests
excluded), resolving names re-exported at the crate root to their module, and
reports each circle with the lines that close it. The files inside a
module folder (`audit/`, `records/`, …) are checked the same way, through
their `super::` paths. Run by .ci/run.
"""
import collections
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "crates", "strongroom-core", "src")


def code_of(path):
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    # Drop comments (doc comments included): a link in prose is not an import.
    return "\n".join(re.sub(r"//.*", "", line) for line in text.split("\n"))


def top_module(path):
    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    return "lib" if parts[0] == "lib" else parts[0]


def root_reexports():
    """Names `pub use`d at the crate root, mapped to the module they come from."""
    names = {}
    for match in re.finditer(r"pub use ([a-z_]+)::(\{[^;]*\}|[A-Za-z_]+);", code_of(os.path.join(ROOT, "lib.rs"))):
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", match.group(2)):
            names[name] = match.group(1)
    return names


def paths_in_use_tree(tree):
    """`{A, b::{C, D}}` → ["A", "b::C", "b::D"] (good enough for core's imports)."""
    tree = tree.strip()
    if not tree.startswith("{"):
        return [tree]
    out, depth, item = [], 0, ""
    for ch in tree[1:-1] + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            item = item.strip()
            if item:
                head, _, rest = item.partition("::")
                out.extend([head + "::" + p for p in paths_in_use_tree(rest)] if rest.startswith("{") else [item])
            item = ""
        else:
            item += ch
    return out


def main():
    names = root_reexports()
    modules = set()
    edges = collections.defaultdict(dict)  # from -> to -> evidence
    for folder, _, files in os.walk(ROOT):
        for file in sorted(files):
            if not file.endswith(".rs"):
                continue
            path = os.path.join(folder, file)
            me = top_module(path)
            modules.add(me)
            code = code_of(path)
            targets = []
            for match in re.finditer(r"use crate::(\{.*?\});", code, re.S):
                targets += [p.split("::")[0] for p in paths_in_use_tree(match.group(1))]
            targets += re.findall(r"crate::([A-Za-z_][A-Za-z0-9_]*)", code)
            for target in targets:
                module = names.get(target, target)
                if module != me and module != "lib" and not module[0].isupper():
                    edges[me].setdefault(module, os.path.relpath(path, ROOT))
    edges.pop("lib", None)
    # Tarjan's strongly connected components.
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    if "--graph" in sys.argv:
        for node in sorted(edges):
            print(f"{node} -> {', '.join(sorted(edges[node]))}")
    for circle in circles:
        print(f"check-core-modules: a circle between {', '.join(circle)}:", file=sys.stderr)
        for node in circle:
            for nxt, where in sorted(edges[node].items()):
                if nxt in circle:
                    print(f"  {node} -> {nxt} ({where})", file=sys.stderr)
    circles += inner_circles()
    if not circles:
        print(f"check-core-modules: {len(modules)} modules and their files, no circles")
    return 1 if circles else 0


def inner_circles():
    """Circles between the files of each module folder, through `super::<file>`."""
    found = []
    for folder in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, folder)
        if not os.path.isdir(path):
            continue
        files = {f[:-3] for f in os.listdir(path) if f.endswith(".rs") and f != "mod.rs"}
        edges = {f: {t for t in re.findall(r"super::([a-z_]+)", code_of(os.path.join(path, f + ".rs")))
                     if t in files and t != f} for f in files}
        # A circle exists when a file reaches itself.
        for start in sorted(files):
            seen, todo = set(), list(edges[start])
            while todo:
                node = todo.pop()
                if node == start:
                    print(f"check-core-modules: a circle through {folder}/{start}.rs", file=sys.stderr)
                    found.append([folder, start])
                    break
                if node not in seen:
                    seen.add(node)
                    todo.extend(edges[node])
    return found


if __name__ == "__main__":
    sys.exit(main())
