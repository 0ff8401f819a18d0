"""Rate limiting per client address: a token bucket each, in this process.

Questions and feedback take one token each; a client gets `per_minute` tokens a minute and
may spend them all at once. Clients on this machine (loopback, or a Unix socket) are not
limited unless QA_RATE_LIMIT_LOOPBACK is on, so local tools and the load test are not.
Behind a reverse proxy on the same machine the client address is the one the proxy sends in
X-Forwarded-For (uvicorn trusts it from 127.0.0.1). With several workers each keeps its own
buckets, so a client may get up to workers × per_minute.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException, Request

MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client's is dropped (it was full again anyway)


class RateLimiter:
    """Token buckets by client address."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client: (tokens, when)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend one of the client's tokens: 0 when it had one, else the seconds until it will."""
        now = self.clock()
        with self._lock:
            tokens, since = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - since) * self.per_second)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.per_second
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


def is_local(host: str | None) -> bool:
    """A client on this machine: a loopback address, or none at all (a Unix socket, an in-process test client)."""
    if not host:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def too_many_requests(wait: float) -> HTTPException:
    seconds = max(1, math.ceil(wait))
    return HTTPException(
        status_code=429, detail=f"请求太频繁，请在{seconds}秒后再试。", headers={"Retry-After": str(seconds)}
    )


async def limit_rate(request: Request) -> None:  # async: cheap, never waits for a worker thread
    """A dependency for the question and feedback routes: 429 with Retry-After when the client is over its rate.

    The question page counts only when it asks something (`?q=`).
    """
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None or not limiter.capacity:
        return
    if request.method == "GET" and "q" not in request.query_params:
        return
    host = request.client.host if request.client else None
    if is_local(host) and not request.app.state.settings.rate_limit_loopback:
        return
    wait = limiter.take(host or "")
    if wait > 0:
        raise too_many_requests(wait)
