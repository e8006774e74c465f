"""Client overhead per transit call: the same encrypt sent with raw ``httpx``
and with ``strongroom.Client`` (and the async pair), one request at a time,
in the same run.

Two measurements:

* **against the server**: a real ``strongroom server`` (or ``--url``), in
  alternating blocks (raw, client, client, raw, …) so drift in the
  machine's load hits both alike;
* **in process**: both over an ``httpx.MockTransport`` that answers a
  canned transit reply at once, timed in this process's CPU time, so the
  difference is the client's own work per call (credentials, retry
  bookkeeping, problem mapping, base64 and JSON of the payload, the typed
  answer) without the network, the server and other processes' load, which
  dwarf it above.

    STRONGROOM_BIN=target/debug/strongroom python clients/python/bench/client_overhead.py
    python clients/python/bench/client_overhead.py --url http://127.0.0.1:8200 --api-key sr_…
    options: --calls 3000 (per side and measurement) --block 250

It prints calls per second for each side and the client's overhead per call
(the difference of the mean latencies) in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

import httpx

from strongroom import AsyncClient, Client
from strongroom.testing import LocalServer

KEY = "bench-overhead"
PLAINTEXT = b"a short field value, as applications encrypt them"
BODY = {"plaintext": base64.b64encode(PLAINTEXT).decode()}
CANNED = {"data": {"ciphertext": "vault:v1:" + base64.b64encode(b"\0" * 77).decode(), "key_version": 1}}

Sync = Callable[[], object]
Async = Callable[[], Awaitable[object]]


def alternate(
    raw: Sync, client: Sync, calls: int, block: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, float]:
    """Seconds spent by each side over ``calls`` calls, in ABBA blocks."""
    spent = {"raw": 0.0, "client": 0.0}
    order = [("raw", raw), ("client", client), ("client", client), ("raw", raw)]
    done = 0
    while done < calls:
        for name, call in order[:2] if (done // block) % 2 == 0 else order[2:]:
            started = clock()
            for _ in range(block):
                call()
            spent[name] += clock() - started
        done += block
    return spent["raw"], spent["client"]


async def aalternate(
    raw: Async, client: Async, calls: int, block: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, float]:
    spent = {"raw": 0.0, "client": 0.0}
    order = [("raw", raw), ("client", client), ("client", client), ("raw", raw)]
    done = 0
    while done < calls:
        for name, call in order[:2] if (done // block) % 2 == 0 else order[2:]:
            started = clock()
            for _ in range(block):
                await call()
            spent[name] += clock() - started
        done += block
    return spent["raw"], spent["client"]


def sync_pair(raw: httpx.Client, client: Client) -> tuple[Sync, Sync]:
    def raw_call() -> object:
        answer = raw.post(f"/v1/transit/encrypt/{KEY}", json=BODY)
        answer.raise_for_status()
        return answer.json()["data"]["ciphertext"]

    def client_call() -> object:
        return client.transit.encrypt(KEY, PLAINTEXT)

    return raw_call, client_call


def async_pair(raw: httpx.AsyncClient, client: AsyncClient) -> tuple[Async, Async]:
    async def raw_call() -> object:
        answer = await raw.post(f"/v1/transit/encrypt/{KEY}", json=BODY)
        answer.raise_for_status()
        return answer.json()["data"]["ciphertext"]

    async def client_call() -> object:
        return await client.transit.encrypt(KEY, PLAINTEXT)

    return raw_call, client_call


def against_server(url: str, api_key: str, calls: int, block: int) -> dict[str, tuple[float, float]]:
    headers = {"X-API-Key": api_key}
    results: dict[str, tuple[float, float]] = {}
    with httpx.Client(base_url=url, headers=headers) as raw, Client(url, api_key=api_key) as client:
        if raw.get(f"/v1/transit/keys/{KEY}").status_code == 404:
            client.transit.create_key(KEY)
        pair = sync_pair(raw, client)
        alternate(*pair, 200, 100)  # warm connections and the server's caches
        results["sync"] = alternate(*pair, calls, block)

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers) as raw, AsyncClient(url, api_key=api_key) as client:
            pair = async_pair(raw, client)
            await aalternate(*pair, 200, 100)
            results["async"] = await aalternate(*pair, calls, block)

    asyncio.run(run())
    return results


def in_process(calls: int, block: int) -> dict[str, tuple[float, float]]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=CANNED)

    url, key = "http://strongroom.invalid", "sr_bench_secret"
    headers = {"X-API-Key": key}
    results: dict[str, tuple[float, float]] = {}
    transport = httpx.MockTransport(answer)
    with (
        httpx.Client(base_url=url, headers=headers, transport=transport) as raw,
        Client(url, api_key=key, http=httpx.Client(base_url=url, transport=transport)) as client,
    ):
        pair = sync_pair(raw, client)
        alternate(*pair, 1000, 500)
        results["sync"] = alternate(*pair, calls, block, time.process_time)

    async def run() -> None:
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, transport=transport) as raw,
            AsyncClient(url, api_key=key, http=httpx.AsyncClient(base_url=url, transport=transport)) as client,
        ):
            pair = async_pair(raw, client)
            await aalternate(*pair, 1000, 500)
            results["async"] = await aalternate(*pair, calls, block, time.process_time)

    asyncio.run(run())
    return results


def report(title: str, results: dict[str, tuple[float, float]], calls: int) -> None:
    print(title)
    for flavour, (raw, client) in results.items():
        names = ("httpx", "strongroom.Client") if flavour == "sync" else ("httpx.AsyncClient", "strongroom.AsyncClient")
        print(f"  {names[0]:<24} {calls / raw:9.0f} calls/s  ({1e6 * raw / calls:8.1f} µs/call)")
        print(f"  {names[1]:<24} {calls / client:9.0f} calls/s  ({1e6 * client / calls:8.1f} µs/call)")
        print(f"  overhead per call: {1e6 * (client - raw) / calls:+.1f} µs ({raw / client:.1%} of the raw rate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (else one is started from $STRONGROOM_BIN)")
    parser.add_argument("--api-key", help="with --url: a key with transit:use and transit:manage")
    parser.add_argument("--calls", type=int, default=3000, help="calls per side and measurement")
    parser.add_argument("--block", type=int, default=250, help="calls per alternating block")
    args = parser.parse_args()
    calls = max(args.block, args.calls // args.block * args.block)
    if args.url and not args.api_key:
        parser.error("--url needs --api-key")
    if args.url:
        results = against_server(args.url, args.api_key, calls, args.block)
    else:
        with LocalServer() as server:
            api_key = server.api_key("transit:use", "transit:manage", name="bench")
            results = against_server(server.url, api_key, calls, args.block)
    report(f"transit encrypt against the server, one call at a time, {calls} calls per side:", results, calls)
    report(
        f"the same over an in-process transport (the client's own work, CPU time), {calls * 10} calls per side:",
        in_process(calls * 10, args.block * 10),
        calls * 10,
    )


if __name__ == "__main__":
    main()
