"""Load test: questions at a given concurrency against a running server, with /healthz probed meanwhile.

    qa serve &                       # or `make serve`; QA_MODEL=hash for a quick check
    python eval/load.py --concurrency 1,8,32,128 --requests 400

Loopback only, and bounded: at most --requests questions and --max-seconds per level. Each
worker keeps one HTTP/1.1 connection alive and posts golden questions to /api/ask one after
another (waiting as told by Retry-After when refused); a separate connection asks /healthz
every 100 ms. Per level it prints answers per
second, latency percentiles of answered questions, how many were refused (503) or failed
(other status, or a dropped connection), and /healthz latency under that load. The client is
a few lines of asyncio, so that it takes little of the CPU it shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate.evaluation import percentile  # noqa: E402

MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 512
MAX_SECONDS = 600
HEALTH_EVERY_S = 0.1


def questions() -> list[str]:
    lines = (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def loopback_address(url: str) -> tuple[str, int]:
    """The host and port of `url`, which must be on this machine."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError:
        raise SystemExit(f"cannot resolve {host!r}") from None
    if not addresses or not all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses):
        raise SystemExit(f"{url} is not a loopback address: this script only loads a server on this machine")
    return host, port


class Connection:
    """One kept-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        headers: dict[str, str] = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def server_is_ready(host: str, port: int) -> bool:
    connection = Connection(host, port)
    try:
        status, _ = await connection.request("GET", "/healthz")
    except (OSError, asyncio.IncompleteReadError, ValueError):
        return False
    finally:
        connection.close()
    return status == 200


@dataclass
class Level:
    concurrency: int
    seconds: float = 0.0  # from the first request to the last response
    latencies_ms: list[float] = field(default_factory=list)  # answered questions
    outcomes: Counter[str] = field(default_factory=Counter)
    health_ms: list[float] = field(default_factory=list)


async def run_level(host: str, port: int, concurrency: int, requests: int, max_seconds: float, asked: list[str]) -> Level:
    level = Level(concurrency)
    next_request = 0
    deadline = time.monotonic() + max_seconds
    stop = asyncio.Event()
    started = time.monotonic()
    last_response = started

    async def worker() -> None:
        nonlocal next_request, last_response
        connection = Connection(host, port)
        while next_request < requests and time.monotonic() < deadline:
            number, next_request = next_request, next_request + 1
            body = json.dumps({"question": asked[number % len(asked)], "top_k": 5}, ensure_ascii=False).encode()
            started = time.perf_counter()
            try:
                status, headers = await connection.request("POST", "/api/ask", body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                level.outcomes["connection dropped"] += 1
                connection.close()
                continue
            last_response = time.monotonic()
            if status == 200:
                level.latencies_ms.append((time.perf_counter() - started) * 1000)
            level.outcomes[str(status)] += 1
            if status == 503:  # refused: come back when told to, as a client should
                await asyncio.sleep(float(headers.get("retry-after", "1")))
        connection.close()

    async def health_probe() -> None:
        connection = Connection(host, port)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                status, _ = await connection.request("GET", "/healthz")
                if status == 200:
                    level.health_ms.append((time.perf_counter() - started) * 1000)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                connection.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), HEALTH_EVERY_S)
        connection.close()

    probe = asyncio.create_task(health_probe())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    level.seconds = last_response - started
    stop.set()
    await probe
    return level


def report(levels: list[Level]) -> None:
    print(
        f"{'concurrency':>11} {'answered/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'answered':>8} {'503':>5} {'failed':>6} {'healthz p50/p99/max ms':>24}"
    )
    for level in levels:
        answered = len(level.latencies_ms)
        failed = sum(n for outcome, n in level.outcomes.items() if outcome not in ("200", "503"))
        lat = [percentile(level.latencies_ms, p) or 0.0 for p in (50, 95, 99)]
        health = level.health_ms
        health_text = (
            f"{percentile(health, 50) or 0:.1f}/{percentile(health, 99) or 0:.1f}/{max(health):.1f}" if health else "none"
        )
        print(
            f"{level.concurrency:>11} {answered / level.seconds if level.seconds else 0.0:>10.1f} {lat[0]:>8.1f} {lat[1]:>8.1f} {lat[2]:>8.1f} "
            f"{answered:>8} {level.outcomes['503']:>5} {failed:>6} {health_text:>24}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (loopback only)")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--requests", type=int, default=400, help=f"questions per level (at most {MAX_REQUESTS})")
    parser.add_argument("--max-seconds", type=float, default=60, help=f"time per level (at most {MAX_SECONDS})")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    if not 1 <= args.requests <= MAX_REQUESTS or not 0 < args.max_seconds <= MAX_SECONDS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS} and --max-seconds 0..{MAX_SECONDS}")
    if not all(1 <= c <= MAX_CONCURRENCY for c in levels):
        parser.error(f"each concurrency must be 1..{MAX_CONCURRENCY}")
    host, port = loopback_address(args.url)
    if not asyncio.run(server_is_ready(host, port)):
        raise SystemExit(f"no server ready at {args.url} (/healthz); start it with `qa serve` first")
    asked = questions()
    results = [asyncio.run(run_level(host, port, c, args.requests, args.max_seconds, asked)) for c in levels]
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
