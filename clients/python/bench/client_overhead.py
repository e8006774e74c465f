"""Client overhead per transit call: the same encrypt, against the same
server in the same run, sent with raw ``httpx`` and with ``strongroom.Client``
(and the async pair), one request at a time, in alternating rounds so drift
in the machine's load hits both alike.

    STRONGROOM_BIN=target/debug/strongroom python clients/python/bench/client_overhead.py
    python clients/python/bench/client_overhead.py --url http://127.0.0.1:8200 --api-key sr_…   # a running server
    options: --calls 2000 --rounds 5

It prints calls per second for each, and the client's overhead per call
(the difference of the mean latencies) in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from strongroom import AsyncClient, Client
from strongroom.testing import LocalServer

KEY = "bench-overhead"
PLAINTEXT = b"a short field value, as applications encrypt them"


def rate(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - started)


async def arate(call: Callable[[], Awaitable[object]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return calls / (time.perf_counter() - started)


def measure(url: str, api_key: str, calls: int, rounds: int) -> dict[str, list[float]]:
    body = {"plaintext": base64.b64encode(PLAINTEXT).decode()}
    headers = {"X-API-Key": api_key}
    results: dict[str, list[float]] = {"httpx": [], "strongroom.Client": [], "httpx async": [], "AsyncClient": []}
    with httpx.Client(base_url=url, headers=headers) as raw, Client(url, api_key=api_key) as client:
        if KEY not in str(raw.get("/v1/transit/keys", params={"list": "true"}).json()):
            client.transit.create_key(KEY)

        def raw_call() -> object:
            answer = raw.post(f"/v1/transit/encrypt/{KEY}", json=body)
            answer.raise_for_status()
            return answer.json()["data"]["ciphertext"]

        def client_call() -> object:
            return client.transit.encrypt(KEY, PLAINTEXT)

        rate(raw_call, 200)  # warm both connections and the server's caches
        rate(client_call, 200)
        for _ in range(rounds):
            results["httpx"].append(rate(raw_call, calls))
            results["strongroom.Client"].append(rate(client_call, calls))

    async def run_async() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers) as raw, AsyncClient(url, api_key=api_key) as client:

            async def raw_call() -> object:
                answer = await raw.post(f"/v1/transit/encrypt/{KEY}", json=body)
                answer.raise_for_status()
                return answer.json()["data"]["ciphertext"]

            async def client_call() -> object:
                return await client.transit.encrypt(KEY, PLAINTEXT)

            await arate(raw_call, 200)
            await arate(client_call, 200)
            for _ in range(rounds):
                results["httpx async"].append(await arate(raw_call, calls))
                results["AsyncClient"].append(await arate(client_call, calls))

    asyncio.run(run_async())
    return results


def report(results: dict[str, list[float]], calls: int, rounds: int) -> None:
    print(f"transit encrypt, one call at a time, {rounds} rounds of {calls} calls (median round):")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"  {name:<18} {value:9.0f} calls/s   ({1e6 / value:7.1f} µs/call)")
    for raw, client in (("httpx", "strongroom.Client"), ("httpx async", "AsyncClient")):
        overhead = 1e6 / medians[client] - 1e6 / medians[raw]
        share = medians[client] / medians[raw]
        print(f"  overhead of {client} over {raw}: {overhead:+.1f} µs/call ({share:.1%} of the raw rate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (else one is started from $STRONGROOM_BIN)")
    parser.add_argument("--api-key", help="with --url: a key with transit:use and transit:manage")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.url:
        if not args.api_key:
            parser.error("--url needs --api-key")
        report(measure(args.url, args.api_key, args.calls, args.rounds), args.calls, args.rounds)
        return
    with LocalServer() as server:
        api_key = server.api_key("transit:use", "transit:manage", name="bench")
        report(measure(server.url, api_key, args.calls, args.rounds), args.calls, args.rounds)


if __name__ == "__main__":
    main()
