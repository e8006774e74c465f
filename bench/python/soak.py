"""The load generator of bench/soak.sh: mixed traffic from many workers spread
round-robin over Strongroom instances that share one PostgreSQL database, one
root key and one blob directory.

bench/soak.sh starts the servers and makes the users and the transit API key
with the CLI; this sets up the rest through the API (a collection, a matter,
grants, a transit key, a few seed records), runs a warm-up, then the measured
window, and prints a Markdown report on stdout. Exit 1 when any answer was a
5xx, another status than the route's expected one, a transport error or a
wrong answer (a range of the wrong length, a decrypt that does not give back
what was encrypted), when an instance's RSS did not level off (it grew by
more than --leak-limit-mib over the second half of the measured window) or
peaked above --rss-peak-mib, or when the audit log does not verify.

Why two bounds and not start against end: under this load a server's RSS
climbs from ~130 MiB idle to a plateau (~215 MiB for the release build, 2
cores: requests in flight, password hashes' 19 MiB buffers, the
allocator's caches) and reaches it at some point of the first minute,
before or after the warm-up ends. A leak keeps climbing; a plateau does
not. So the growth over the second half must be small, and the plateau
itself under a stated ceiling.

Secrets come from the environment, never argv (visible in ps):
    SOAK_PASSWORD        the password of every user
    SOAK_TRANSIT_TOKEN   an API key with transit:use and transit:manage
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import dataclasses
import math
import os
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

COLLECTION = "soak_interviews"
MATTER = "soak"
TRANSIT_KEY = "soak"
REASON = "soak test of the reveal path, no real data"
PURPOSE = "quality_review"
RANGE_BYTES = 64 * 1024

# A redacted field makes every create run the detectors, as the built-in
# interviews do; the secret fields are sealed, `notes` also blind-indexed.
SCHEMA = {
    "name": COLLECTION,
    "fields": [
        {"name": "title", "type": "string", "sensitivity": "public", "required": True},
        {"name": "status", "type": "string", "sensitivity": "public"},
        {"name": "score", "type": "number", "sensitivity": "public"},
        {"name": "summary", "type": "text", "sensitivity": "redacted"},
        {"name": "transcript", "type": "text", "sensitivity": "secret"},
        {
            "name": "notes",
            "type": "string",
            "sensitivity": "secret",
            "searchable": True,
        },
        {
            "name": "audio",
            "type": "blob",
            "sensitivity": "secret",
            "content_types": ["audio/*"],
        },
    ],
}
SUMMARY = (
    "Hi, I am Maria Okonkwo from Harlow & Finch LLP. I moved to Denver in 2019 and "
    "live at 4417 Larkspur Lane; call me on +1 303 555 0142 or write to maria@example.com."
)
TRANSCRIPT = ("I led the migration of our billing system to a new database, " * 20)[
    :1200
]

# (route, weight, expected status). Argon2id makes a login cost ~45 ms of a
# core by design, so logins are a small share, as in real traffic.
ROUTES: list[tuple[str, int, int]] = [
    ("login", 2, 200),
    ("record create", 18, 201),
    ("record read", 25, 200),
    ("record decrypt", 15, 200),
    ("blob upload", 5, 201),
    ("blob range read", 10, 206),
    ("transit encrypt", 15, 200),
    ("transit decrypt", 10, 200),
]
EXPECTED = {name: status for name, _, status in ROUTES}

# Tokens live identity.access_token_seconds (900 by default): a worker logs
# in again before that, so a long soak does not turn into 401s.
TOKEN_RENEW_SECONDS = 600.0


class WrongAnswer(Exception):
    """The expected status with a body that is not what was asked for."""


@dataclasses.dataclass
class RouteStats:
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    # Status codes other than the expected one, and transport errors by class name.
    unexpected: collections.Counter[str] = dataclasses.field(
        default_factory=collections.Counter
    )
    wrong: int = 0


@dataclasses.dataclass
class Worker:
    index: int
    client: httpx.AsyncClient
    clerk_token: str
    reviewer_token: str
    clerk_at: float
    reviewer_at: float

    def stale(self, now: float) -> str | None:
        """The role whose token is due for renewal, if any."""
        if now - self.clerk_at > TOKEN_RENEW_SECONDS:
            return "clerk"
        if now - self.reviewer_at > TOKEN_RENEW_SECONDS:
            return "reviewer"
        return None


@dataclasses.dataclass
class Shared:
    """What the workers create and pick from; one event loop, so no locks."""

    password: str
    transit_token: str
    clerks: list[str]
    reviewers: list[str]
    blob: bytes
    records: list[str] = dataclasses.field(default_factory=list)
    without_blob: collections.deque[str] = dataclasses.field(
        default_factory=collections.deque
    )
    with_blob: list[str] = dataclasses.field(default_factory=list)
    ciphertexts: collections.deque[tuple[str, str]] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=2000)
    )
    created: int = 0


@dataclasses.dataclass
class Measured:
    """Of the measured window: its length and what the processes used."""

    window: float
    server_cpu: list[float]
    client_cpu: float
    # RSS in KiB per instance: "idle", "start", "peak", "end".
    rss: dict[str, list[int]]
    # RSS in KiB per instance, every second of the measured window.
    rss_series: list[list[int]]


@dataclasses.dataclass
class Failure:
    route: str
    url: str
    status: str
    body: str


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def record_body(shared: Shared) -> dict[str, object]:
    shared.created += 1
    n = shared.created
    return {
        "matter": MATTER,
        "fields": {
            "title": f"Interview {n}",
            "status": "new",
            "score": n % 5,
            "summary": SUMMARY,
            "transcript": TRANSCRIPT,
            "notes": f"candidate reference {n}",
        },
    }


def records_url(record: str = "") -> str:
    return f"/v1/collections/{COLLECTION}/records" + (f"/{record}" if record else "")


async def login(worker: Worker, shared: Shared) -> httpx.Response:
    now = asyncio.get_running_loop().time()
    role = worker.stale(now) or random.choice(("clerk", "reviewer"))
    username = random.choice(shared.clerks if role == "clerk" else shared.reviewers)
    body = {"username": username, "password": shared.password}
    answer = await worker.client.post("/v1/auth/login", json=body)
    if answer.status_code == 200:
        token = answer.json().get("access_token")
        if not token:
            raise WrongAnswer(f"no access_token: {answer.text[:200]}")
        # The new session replaces the worker's token of that role: the
        # following requests use a session made on this instance.
        if role == "clerk":
            worker.clerk_token, worker.clerk_at = token, now
        else:
            worker.reviewer_token, worker.reviewer_at = token, now
    return answer


async def record_create(worker: Worker, shared: Shared) -> httpx.Response:
    answer = await worker.client.post(
        records_url(), json=record_body(shared), headers=bearer(worker.clerk_token)
    )
    if answer.status_code == 201:
        record = answer.json()["id"]
        shared.records.append(record)
        shared.without_blob.append(record)
    return answer


async def record_read(worker: Worker, shared: Shared) -> httpx.Response:
    record = random.choice(shared.records)
    answer = await worker.client.get(
        records_url(record), headers=bearer(worker.clerk_token)
    )
    if answer.status_code == 200 and answer.json().get("id") != record:
        raise WrongAnswer(f"asked for {record}: {answer.text[:200]}")
    return answer


async def record_decrypt(worker: Worker, shared: Shared) -> httpx.Response:
    record = random.choice(shared.records)
    body = {"fields": ["transcript", "notes"], "reason": REASON, "purpose": PURPOSE}
    answer = await worker.client.post(
        records_url(record) + "/decrypt",
        json=body,
        headers=bearer(worker.reviewer_token),
    )
    if (
        answer.status_code == 200
        and answer.json()["decrypted_fields"].get("transcript") != TRANSCRIPT
    ):
        raise WrongAnswer(f"record {record}: the transcript did not come back")
    return answer


async def blob_upload(worker: Worker, shared: Shared) -> httpx.Response:
    # Each upload goes to a record that has no blob yet: a second upload
    # would replace the object while range reads of it may be in flight.
    if not shared.without_blob:
        created = await record_create(worker, shared)
        if created.status_code != 201:
            return created
    record = shared.without_blob.popleft()
    headers = {**bearer(worker.clerk_token), "content-type": "audio/wav"}
    answer = await worker.client.put(
        records_url(record) + "/blobs/audio", content=shared.blob, headers=headers
    )
    if answer.status_code == 201:
        if answer.json().get("size") != len(shared.blob):
            raise WrongAnswer(f"record {record}: stored {answer.text[:200]}")
        shared.with_blob.append(record)
    return answer


async def blob_range_read(worker: Worker, shared: Shared) -> httpx.Response:
    record = random.choice(shared.with_blob)
    first = random.randrange(len(shared.blob) - RANGE_BYTES)
    last = first + RANGE_BYTES - 1
    headers = {
        **bearer(worker.reviewer_token),
        "range": f"bytes={first}-{last}",
        "x-justification": REASON,
        "x-purpose": PURPOSE,
    }
    answer = await worker.client.get(
        records_url(record) + "/blobs/audio", headers=headers
    )
    if answer.status_code == 206 and answer.content != shared.blob[first : last + 1]:
        raise WrongAnswer(
            f"record {record}: bytes {first}-{last} differ ({len(answer.content)} bytes came)"
        )
    return answer


async def transit_encrypt(worker: Worker, shared: Shared) -> httpx.Response:
    plaintext = base64.b64encode(os.urandom(64)).decode()
    answer = await worker.client.post(
        f"/v1/transit/encrypt/{TRANSIT_KEY}",
        json={"plaintext": plaintext},
        headers={"x-vault-token": shared.transit_token},
    )
    if answer.status_code == 200:
        ciphertext = answer.json()["data"]["ciphertext"]
        if not ciphertext.startswith("vault:v"):
            raise WrongAnswer(f"ciphertext {ciphertext[:40]}")
        shared.ciphertexts.append((ciphertext, plaintext))
    return answer


async def transit_decrypt(worker: Worker, shared: Shared) -> httpx.Response:
    ciphertext, plaintext = random.choice(shared.ciphertexts)
    answer = await worker.client.post(
        f"/v1/transit/decrypt/{TRANSIT_KEY}",
        json={"ciphertext": ciphertext},
        headers={"x-vault-token": shared.transit_token},
    )
    if answer.status_code == 200 and answer.json()["data"]["plaintext"] != plaintext:
        raise WrongAnswer("the plaintext differs from the one encrypted")
    return answer


OPERATIONS: dict[str, Callable[[Worker, Shared], Awaitable[httpx.Response]]] = {
    "login": login,
    "record create": record_create,
    "record read": record_read,
    "record decrypt": record_decrypt,
    "blob upload": blob_upload,
    "blob range read": blob_range_read,
    "transit encrypt": transit_encrypt,
    "transit decrypt": transit_decrypt,
}


class Run:
    """The worker loops and what they measured."""

    def __init__(self, shared: Shared, measure_from: float, until: float) -> None:
        self.shared = shared
        self.measure_from = measure_from
        self.until = until
        self.stats = {name: RouteStats() for name, _, _ in ROUTES}
        self.failures: list[Failure] = []
        self.last_answer = measure_from

    async def worker(self, worker: Worker) -> None:
        names = [name for name, _, _ in ROUTES]
        weights = [weight for _, weight, _ in ROUTES]
        loop = asyncio.get_running_loop()
        while (started_at := loop.time()) < self.until:
            name = (
                "login"
                if worker.stale(started_at)
                else random.choices(names, weights)[0]
            )
            measured = started_at >= self.measure_from
            started = time.perf_counter()
            answer: httpx.Response | None = None
            status, body, wrong = "", "", False
            try:
                answer = await OPERATIONS[name](worker, self.shared)
                status = str(answer.status_code)
            except (WrongAnswer, KeyError, TypeError, ValueError) as error:
                # ValueError includes a body that is not JSON.
                status, body, wrong = str(EXPECTED[name]), repr(error), True
            except httpx.HTTPError as error:
                status, body = type(error).__name__, str(error)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if not measured:
                continue
            self.last_answer = loop.time()
            stats = self.stats[name]
            stats.latencies_ms.append(elapsed_ms)
            if wrong:
                stats.wrong += 1
            elif status != str(EXPECTED[name]):
                stats.unexpected[status] += 1
            else:
                continue
            # Problem bodies carry the request id (and error_id for a 500)
            # to find the server's log lines by.
            samples = sum(
                1 for f in self.failures if (f.route, f.status) == (name, status)
            )
            if len(self.failures) < 20 and samples < 3:
                if answer is not None and not wrong:
                    body = answer.text
                self.failures.append(
                    Failure(name, str(worker.client.base_url), status, body[:400])
                )


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces: fields count from after its ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def setup(
    urls: list[str], args: argparse.Namespace, password: str, transit_token: str
) -> dict[str, str]:
    """The collection, matter, grants and transit key; answers each user's token."""
    with httpx.Client(base_url=urls[0], timeout=60) as client:

        def call(
            method: str, path: str, expected: set[int], **kwargs: object
        ) -> httpx.Response:
            answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            if answer.status_code not in expected:
                raise SystemExit(
                    f"setup: {method} {path} answered {answer.status_code}: {answer.text[:500]}"
                )
            return answer

        def log_in(username: str) -> str:
            answer = call(
                "POST",
                "/v1/auth/login",
                {200},
                json={"username": username, "password": password},
            )
            return str(answer.json()["access_token"])

        admin = log_in(args.admin)
        call("POST", "/v1/collections", {201}, json=SCHEMA, headers=bearer(admin))
        call(
            "POST",
            "/v1/matters",
            {201},
            json={"id": MATTER, "name": "Soak test"},
            headers=bearer(admin),
        )
        tokens = {}
        for username in args.clerk + args.reviewer:
            tokens[username] = log_in(username)
            me = call(
                "GET", "/v1/users/me", {200}, headers=bearer(tokens[username])
            ).json()
            grant = {
                "principal": f"user:{me['id']}",
                "justification": "soak test user on the soak matter",
            }
            call(
                "POST",
                f"/v1/matters/{MATTER}/grants",
                {200, 201},
                json=grant,
                headers=bearer(admin),
            )
        call(
            "POST",
            f"/v1/transit/keys/{TRANSIT_KEY}",
            {200, 204},
            headers={"x-vault-token": transit_token},
        )
        tokens[args.admin] = admin
        return tokens


async def load(
    urls: list[str], pids: list[int], args: argparse.Namespace, shared: Shared
) -> tuple[Run, Measured]:
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    clients = [
        httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits)
        for url in urls
    ]
    tokens = args.tokens
    workers = [
        Worker(
            index=i,
            client=clients[i % len(clients)],
            clerk_token=tokens[args.clerk[i % len(args.clerk)]],
            reviewer_token=tokens[args.reviewer[i % len(args.reviewer)]],
            clerk_at=loop.time(),
            reviewer_at=loop.time(),
        )
        for i in range(args.concurrency)
    ]
    # Seeds, through every instance, so the first reads, decrypts and
    # ranges of each find something made by the other one.
    for worker in workers[: 2 * len(urls)]:
        for operation in (record_create, blob_upload, transit_encrypt):
            answer = await operation(worker, shared)
            if answer.status_code not in (200, 201):
                raise SystemExit(
                    f"seeding: {operation.__name__} answered {answer.status_code}: {answer.text[:500]}"
                )
    # Two logins at once through each instance: a password hash takes a
    # 19 MiB buffer (identity.hashing_concurrency, 2 by default, at once),
    # which would otherwise first show as RSS growth during the measured load.
    logins = await asyncio.gather(*(login(w, shared) for w in workers[: 2 * len(urls)]))
    for answer in logins:
        if answer.status_code != 200:
            raise SystemExit(
                f"seeding: login answered {answer.status_code}: {answer.text[:500]}"
            )

    rss: dict[str, list[int]] = {"idle": [rss_kib(p) for p in pids]}
    start = loop.time()
    run = Run(
        shared,
        measure_from=start + args.warmup,
        until=start + args.warmup + args.duration,
    )
    tasks = [asyncio.create_task(run.worker(worker)) for worker in workers]
    await asyncio.sleep(args.warmup)
    rss["start"] = [rss_kib(p) for p in pids]
    rss["peak"] = list(rss["start"])
    cpu_start = [cpu_seconds(p) for p in pids]
    client_start = client_cpu_seconds()
    # Sampled every second: a leak climbs all the way, a pool or a cache
    # filling up levels off.
    series: list[list[int]] = [list(rss["start"])]
    while loop.time() < run.until:
        await asyncio.sleep(min(1.0, max(0.0, run.until - loop.time())))
        series.append([rss_kib(p) for p in pids])
        rss["peak"] = [
            max(peak, now) for peak, now in zip(rss["peak"], series[-1], strict=True)
        ]
    await asyncio.gather(*tasks)
    rss["end"] = [rss_kib(p) for p in pids]
    rss["peak"] = [
        max(peak, end) for peak, end in zip(rss["peak"], rss["end"], strict=True)
    ]
    window = run.last_answer - run.measure_from
    measured = Measured(
        window=window,
        server_cpu=[cpu_seconds(p) - c for p, c in zip(pids, cpu_start, strict=True)],
        client_cpu=client_cpu_seconds() - client_start,
        rss=rss,
        rss_series=series,
    )
    for client in clients:
        await client.aclose()
    return run, measured


def audit_check(urls: list[str], admin_token: str) -> list[tuple[str, bool, str]]:
    """GET /v1/audit/stats on every instance: (url, verified, what it said)."""
    results = []
    for url in urls:
        answer = httpx.get(
            f"{url}/v1/audit/stats", headers=bearer(admin_token), timeout=600
        )
        if answer.status_code != 200:
            results.append(
                (url, False, f"answered {answer.status_code}: {answer.text[:300]}")
            )
            continue
        stats = answer.json()
        integrity = stats.get("integrity", {})
        verified = integrity.get("verified") is True and not stats.get(
            "health_problems"
        )
        said = f"{stats.get('total_events')} events"
        if not verified:
            said += f"; integrity {integrity}; health problems {stats.get('health_problems')}"
        results.append((url, verified, said))
    return results


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def report(
    args: argparse.Namespace,
    urls: list[str],
    run: Run,
    measured: Measured,
    audit: list[tuple[str, bool, str]],
) -> list[str]:
    """Prints the Markdown report; answers the reasons to fail."""
    window = measured.window
    problems: list[str] = []
    print(
        f"`bench/soak.sh` ({args.label}): {len(urls)} instances on one PostgreSQL, {args.concurrency} workers "
        f"round-robin, {args.duration:.0f} s measured after a {args.warmup:.0f} s warm-up, "
        f"blobs of {args.blob_kib} KiB, ranges of {RANGE_BYTES // 1024} KiB:"
    )
    print()
    print("| route | requests | req/s | p50 ms | p99 ms | max ms | unexpected |")
    print("|---|---|---|---|---|---|---|")
    total = 0
    fives = 0
    others = 0
    transport = 0
    wrong = 0
    for name, _, expected in ROUTES:
        stats = run.stats[name]
        values = sorted(stats.latencies_ms)
        total += len(values)
        for status, count in stats.unexpected.items():
            if status.isdigit() and status.startswith("5"):
                fives += count
            elif status.isdigit():
                others += count
            else:
                transport += count
        wrong += stats.wrong
        bad = [
            f"{status} ×{count}" for status, count in sorted(stats.unexpected.items())
        ]
        if stats.wrong:
            bad.append(f"wrong answer ×{stats.wrong}")
        if values:
            timing = f"{percentile(values, 0.5):.1f} | {percentile(values, 0.99):.1f} | {values[-1]:.0f}"
        else:
            timing = "– | – | –"
        print(
            f"| {name} ({expected}) | {len(values):,} | {len(values) / window:,.1f} | {timing} | "
            f"{', '.join(bad) or '–'} |"
        )
    print(f"| **all** | **{total:,}** | **{total / window:,.1f}** | | | | |")
    print()
    print(
        f"| instance | RSS idle | start of load | half-way | peak (limit {args.rss_peak_mib} MiB) | end "
        f"| growth, second half (limit {args.leak_limit_mib} MiB) | server CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rss = measured.rss
    for i, url in enumerate(urls):
        half_way = measured.rss_series[len(measured.rss_series) // 2][i]
        growth = rss["end"][i] - half_way
        cpu = measured.server_cpu[i]
        name = chr(ord("A") + i)
        print(
            f"| {name} {url} | {mib(rss['idle'][i])} | {mib(rss['start'][i])} | {mib(half_way)} "
            f"| {mib(rss['peak'][i])} | {mib(rss['end'][i])} | {growth / 1024:+.0f} MiB "
            f"| {cpu:.1f} s ({cpu / window * 100:.0f} % of a core) |"
        )
        if growth > args.leak_limit_mib * 1024:
            problems.append(
                f"instance {name}: RSS grew {growth / 1024:.0f} MiB over the second half of the load"
            )
        if rss["peak"][i] > args.rss_peak_mib * 1024:
            problems.append(f"instance {name}: RSS peaked at {mib(rss['peak'][i])}")
    print()
    for i in range(len(urls)):
        every_10_s = [sample[i] // 1024 for sample in measured.rss_series[::10]]
        print(
            f"RSS of {chr(ord('A') + i)} every 10 s (MiB): {', '.join(map(str, every_10_s))}."
        )
    client_cpu = measured.client_cpu
    print(
        f"5xx: **{fives}**; other unexpected statuses: {others}; transport errors: {transport}; wrong answers: "
        f"{wrong}. The load generator (one Python process) used {client_cpu / window * 100:.0f} % of a core."
    )
    for url, verified, said in audit:
        print(
            f"Audit log through {url}: {'verified' if verified else 'NOT VERIFIED'} ({said})."
        )
        if not verified:
            problems.append(f"the audit log does not verify through {url}: {said}")
    if fives:
        problems.append(f"{fives} answers were 5xx")
    if others or transport or wrong:
        problems.append(
            f"{others} unexpected statuses, {transport} transport errors, {wrong} wrong answers"
        )
    if run.failures:
        print()
        print(
            "First unexpected answers, up to 3 per route and status (route, instance, status, body):"
        )
        print()
        for failure in run.failures:
            print(
                f"- {failure.route} via {failure.url}: {failure.status}: `{failure.body}`"
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", action="append", required=True, help="an instance (repeat)"
    )
    parser.add_argument(
        "--pid",
        action="append",
        type=int,
        required=True,
        help="its server's pid, same order",
    )
    parser.add_argument("--admin", default="admin")
    parser.add_argument(
        "--clerk",
        action="append",
        required=True,
        help="a user with role analyst (repeat)",
    )
    parser.add_argument(
        "--reviewer",
        action="append",
        required=True,
        help="a user with role admin (repeat)",
    )
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--blob-kib", type=int, default=256)
    parser.add_argument("--leak-limit-mib", type=int, default=16)
    parser.add_argument("--rss-peak-mib", type=int, default=384)
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per request"
    )
    parser.add_argument(
        "--label", default="", help="what was measured, for the report's first line"
    )
    args = parser.parse_args()
    if len(args.url) != len(args.pid):
        parser.error("one --pid per --url")
    if args.blob_kib * 1024 <= RANGE_BYTES:
        parser.error(
            f"--blob-kib must exceed the range read ({RANGE_BYTES // 1024} KiB)"
        )
    password = os.environ["SOAK_PASSWORD"]
    transit_token = os.environ["SOAK_TRANSIT_TOKEN"]

    args.tokens = setup(args.url, args, password, transit_token)
    shared = Shared(
        password=password,
        transit_token=transit_token,
        clerks=args.clerk,
        reviewers=args.reviewer,
        blob=os.urandom(args.blob_kib * 1024),
    )
    run, measured = asyncio.run(load(args.url, args.pid, args, shared))
    audit = audit_check(args.url, args.tokens[args.admin])
    problems = report(args, args.url, run, measured, audit)
    for problem in problems:
        print(f"soak: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
