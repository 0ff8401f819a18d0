"""Micro-batching of questions: concurrent callers share one model call.

Encoding eight questions in one batch costs far less than eight calls, so under load a
worker thread gathers what arrives within a few milliseconds (at most `max_batch`),
encodes it at once and hands each caller its own vector. Alone, a question waits at most
`max_wait_ms` for company.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from qa.errors import QAError
from qa.retrieve.embedder import Embedder, release_workers


class QueryBatcherError(QAError):
    """The batcher is shut down, or too many questions are already waiting."""


@dataclass
class _Request:
    text: str
    result: Future[np.ndarray] = field(default_factory=Future)


_STOP = None  # put on the queue to wake the worker for shutdown


class QueryBatcher:
    """Collects questions from many threads into batches for one `embed_queries` function."""

    def __init__(
        self,
        embed_queries: Callable[[Sequence[str]], np.ndarray],
        max_batch: int = 16,
        max_wait_ms: float = 2.0,
        max_pending: int = 1024,
        submit_timeout_s: float = 30.0,
    ) -> None:
        if max_batch <= 0 or max_pending <= 0 or max_wait_ms < 0:
            raise ValueError("max_batch and max_pending must be positive, max_wait_ms not negative")
        self._embed = embed_queries
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.submit_timeout_s = submit_timeout_s
        self._pending: queue.Queue[_Request | None] = queue.Queue(maxsize=max_pending)
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._run, name="query-batcher", daemon=True)
        self._worker.start()

    def embed(self, text: str) -> np.ndarray:
        """One question's vector, encoded together with whatever other questions arrive meanwhile."""
        return self.submit(text).result()

    def submit(self, text: str) -> Future[np.ndarray]:
        if self._closed.is_set():
            raise QueryBatcherError("问题编码服务已关闭，请稍后重试")
        request = _Request(text)
        try:
            # A full queue holds callers back (backpressure) rather than growing without bound.
            self._pending.put(request, timeout=self.submit_timeout_s)
        except queue.Full:
            raise QueryBatcherError("服务繁忙：等待编码的问题太多，请稍后重试") from None
        if self._closed.is_set():
            self._fail_pending()  # close() may have drained the queue just before this put
        return request.result

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker: the batch in hand is finished, questions still queued get QueryBatcherError."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(queue.Full):  # when full, the worker sees the closed flag after its batch
            self._pending.put_nowait(_STOP)
        self._worker.join(timeout_s)
        self._fail_pending()

    def __enter__(self) -> QueryBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail_pending(self) -> None:
        while True:
            try:
                request = self._pending.get_nowait()
            except queue.Empty:
                return
            if request is not None and request.result.set_running_or_notify_cancel():
                request.result.set_exception(QueryBatcherError("问题编码服务已关闭，请稍后重试"))

    def _collect(self) -> list[_Request]:
        """The next batch: block for one question, then take more until the batch is full or the wait is over."""
        first = self._pending.get()
        if first is None:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch and not self._closed.is_set():
            remaining = deadline - time.monotonic()
            try:
                request = self._pending.get(timeout=remaining) if remaining > 0 else self._pending.get_nowait()
            except queue.Empty:
                break
            if request is None:
                break
            batch.append(request)
        return batch

    def _run(self) -> None:
        while not self._closed.is_set():
            batch = [r for r in self._collect() if r.result.set_running_or_notify_cancel()]
            if not batch:
                continue
            try:
                vectors = self._embed([r.text for r in batch])
                if len(vectors) != len(batch):
                    raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(batch)} questions")
            except BaseException as exc:  # the callers get the model's error, the worker lives on
                for request in batch:
                    request.result.set_exception(exc)
                continue
            for request, vector in zip(batch, vectors, strict=True):
                request.result.set_result(vector)


class BatchingEmbedder:
    """An Embedder whose questions go through a QueryBatcher; passages are embedded directly."""

    def __init__(self, embedder: Embedder, max_batch: int = 16, max_wait_ms: float = 2.0) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.fingerprint = embedder.fingerprint
        self.dim = embedder.dim
        self.batcher = QueryBatcher(embedder.embed_queries, max_batch=max_batch, max_wait_ms=max_wait_ms)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        futures = [self.batcher.submit(t) for t in texts]
        vectors = [f.result() for f in futures]
        return np.stack(vectors).astype(np.float32, copy=False) if vectors else np.zeros((0, self.dim), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_documents(texts)

    def release_workers(self) -> None:
        release_workers(self.embedder)

    def close(self) -> None:
        self.batcher.close()
