"""What the server takes on: request size limits, and a bound on the questions answered at once.

`RequestLimits` refuses a request before the app reads it: an over-long URL (414), a URL that
is not UTF-8 once percent-decoded (400) and a body over the cap (413, from Content-Length
when given, else counted as it streams in). `Admission` takes on at most `limit` questions,
answered in worker threads of its own (one per core) so the event loop (and `/healthz`) stays
free, and refuses the next one at once (503 with Retry-After) instead of queueing it behind
all the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

import anyio
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.settings import Settings

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1
HEADER_ROOM_BYTES = 16 * 1024  # request headers besides the URL (cookies, user agent)
LINGER_SECONDS = 5  # how long the rest of an unreadable request is read and dropped before closing

# (scope, receive, send, status, message) -> sends an error response in the app's own form.
Reject = Callable[[Scope, Receive, Send, int, str], Awaitable[None]]


FORM_ROOM_BYTES = 64 * 1024  # an upload form's fields and part headers besides the file


def body_too_large_message(max_bytes: int) -> str:
    return f"请求内容太大，最多 {max_bytes // 1024} KB。"


def upload_too_large_message(max_bytes: int) -> str:
    return f"文件太大，最多 {max_bytes / 1_000_000:g} MB。"


def _is_utf8(percent_encoded: bytes) -> bool:
    try:
        unquote_to_bytes(percent_encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RequestLimits:
    """ASGI middleware: refuse over-long or undecodable URLs and over-large bodies before reading them."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_url_bytes: int,
        reject: Reject,
        upload_paths: tuple[str, ...] = (),
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = max_url_bytes
        self.reject = reject
        self.upload_paths = upload_paths  # staff uploads of documents: a larger body is allowed there
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        if len(raw_path) + len(query) > self.max_url_bytes:
            await self.reject(scope, receive, send, 414, f"链接太长，最多 {self.max_url_bytes // 1024} KB。")
            return
        if not _is_utf8(raw_path) or not _is_utf8(query):
            await self.reject(scope, receive, send, 400, "链接中有无法识别的字符（不是 UTF-8 编码），请检查后重试。")
            return
        upload = scope["path"] in self.upload_paths and scope.get("method") == "POST"
        # An upload's body is the file and a little form around it.
        limit = self.max_upload_bytes + FORM_ROOM_BYTES if upload else self.max_body_bytes
        too_large = upload_too_large_message(self.max_upload_bytes) if upload else body_too_large_message(limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self.reject(scope, receive, send, 400, "请求头 Content-Length 无效。")
                return
            if int(declared) > limit:
                await self.reject(scope, receive, send, 413, too_large)
                return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a chunked body, counted as it arrives
                raise HTTPException(status_code=413, detail=too_large)
            return message

        await self.app(scope, receive_within_limit, send)


class Admission:
    """Takes on at most `limit` questions, answered by `workers` threads of its own; refuses more at once (503).

    Questions beyond `workers` wait their turn in a short queue: a burst is smoothed, but no
    question waits behind more than `limit - workers` others. More threads than cores would
    only slow every answer and, holding the interpreter lock, the event loop as well.
    """

    def __init__(self, limit: int, workers: int) -> None:
        self.limit = limit
        self.in_flight = 0  # changed only on the event loop, so no lock
        self._threads = anyio.CapacityLimiter(max(1, min(workers, limit)))

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` in a worker thread, or an HTTPException 503 when `limit` are already in flight."""
        if self.in_flight >= self.limit:
            raise HTTPException(
                status_code=503,
                detail="服务繁忙，请稍后再试。",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.in_flight += 1
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._threads)
        finally:
            self.in_flight -= 1


class LingeringH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 server, answering a request it cannot parse in Chinese and closing gently.

    uvicorn answers a request head it cannot read (a URL of megabytes, malformed bytes) with a
    bare English 400 and closes at once; a client still sending its URL then sees the connection
    reset instead of the answer. Here the answer is 431 (head too large) or 400, and what the
    client still sends is read and dropped for up to LINGER_SECONDS before the connection closes.
    """

    draining = False  # the request was answered as unreadable: what still comes is dropped

    def send_400_response(self, msg: str) -> None:
        too_large = len(self.conn.trailing_data[0]) > (self.config.h11_max_incomplete_event_size or 0)
        status = "431 Request Header Fields Too Large" if too_large else "400 Bad Request"
        text = "链接或请求头太长。" if too_large else "请求无法解析。"
        body = text.encode("utf-8")
        head = f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        self.transport.write(f"{head}content-length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.draining = True
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self.draining:
            return
        super().data_received(data)

    def eof_received(self) -> None:
        if self.draining:
            self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for these settings: address, keep-alive, and how much of a request head it reads.

    uvicorn (h11) refuses a request whose head it cannot read whole; reading up to the app's
    URL limit plus room for headers lets the app answer 414 itself.
    """
    return {
        "host": settings.host,
        "port": settings.port,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_url_bytes + HEADER_ROOM_BYTES,
        "http": LingeringH11Protocol,
    }
