"""Micro-batching: concurrent questions share model calls, and each caller gets its own vector or error."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from qa.retrieve.batching import BatchingEmbedder, QueryBatcher, QueryBatcherError
from qa.retrieve.embedder import HashEmbedder
from qa.service import QAService


class RecordingEmbedder:
    """The hash embedder, recording each batch; a batch holding "故障" fails; `gate` can hold calls back."""

    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.name, self.fingerprint, self.dim = "recording", "recording", self.inner.dim
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        if any("故障" in t for t in texts):
            raise RuntimeError("模型出错")
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)


QUESTIONS = [f"第{i}个问题：到2025年新制定标准多少项" for i in range(16)]


def test_sixteen_threads_share_fewer_model_calls_and_get_their_own_vectors() -> None:
    fake = RecordingEmbedder()
    fake.gate.clear()  # the first call waits, so the other questions queue up meanwhile
    results: dict[int, np.ndarray] = {}
    with QueryBatcher(fake.embed_queries, max_batch=8, max_wait_ms=20) as batcher:

        def ask(i: int) -> None:
            results[i] = batcher.embed(QUESTIONS[i])

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        assert fake.entered.wait(10)
        for _ in range(2000):  # until every question is submitted (bounded: at most 10 s)
            if batcher._pending.qsize() >= 16 - len(fake.batches[0]):
                break
            threading.Event().wait(0.005)
        fake.gate.set()
        for t in threads:
            t.join(10)
    assert len(fake.batches) < 16 and max(len(b) for b in fake.batches) > 1
    assert all(len(b) <= 8 for b in fake.batches)
    assert sorted(t for b in fake.batches for t in b) == sorted(QUESTIONS)
    for i, question in enumerate(QUESTIONS):
        assert np.array_equal(results[i], HashEmbedder().embed_queries([question])[0])


def test_a_model_error_reaches_every_caller_of_its_batch_and_the_worker_lives_on() -> None:
    fake = RecordingEmbedder()
    with QueryBatcher(fake.embed_queries, max_wait_ms=0) as batcher:
        with pytest.raises(RuntimeError, match="模型出错"):
            batcher.embed("故障的问题")
        assert np.array_equal(batcher.embed("正常的问题"), HashEmbedder().embed_queries(["正常的问题"])[0])


def test_a_closed_batcher_finishes_its_batch_and_refuses_the_rest() -> None:
    fake = RecordingEmbedder()
    fake.gate.clear()
    batcher = QueryBatcher(fake.embed_queries, max_batch=1, max_wait_ms=0)
    in_hand = batcher.submit("正在编码的问题")
    assert fake.entered.wait(10)
    waiting = batcher.submit("排队的问题")
    closing = threading.Thread(target=batcher.close)
    closing.start()
    fake.gate.set()
    closing.join(10)
    assert not closing.is_alive() and not batcher._worker.is_alive()
    assert in_hand.result(10).shape == (fake.dim,)
    with pytest.raises(QueryBatcherError, match="已关闭"):
        waiting.result(10)
    with pytest.raises(QueryBatcherError, match="已关闭"):
        batcher.embed("关闭之后的问题")
    batcher.close()  # a second close does nothing


def test_a_full_queue_refuses_new_questions_instead_of_growing() -> None:
    fake = RecordingEmbedder()
    fake.gate.clear()
    batcher = QueryBatcher(fake.embed_queries, max_batch=1, max_wait_ms=0, max_pending=1, submit_timeout_s=0.05)
    first = batcher.submit("一")
    assert fake.entered.wait(10)
    second = batcher.submit("二")  # fills the queue
    with pytest.raises(QueryBatcherError, match="繁忙"):
        batcher.submit("三")
    fake.gate.set()
    assert first.result(10).shape == second.result(10).shape == (fake.dim,)
    batcher.close()


def test_the_batching_embedder_matches_the_plain_one() -> None:
    plain = HashEmbedder()
    batching = BatchingEmbedder(plain)
    try:
        assert (batching.name, batching.fingerprint, batching.dim) == (plain.name, plain.fingerprint, plain.dim)
        questions = ["补贴多少钱", "什么时候截止", "谁来负责"]
        assert np.array_equal(batching.embed_queries(questions), plain.embed_queries(questions))
        assert batching.embed_queries([]).shape == (0, plain.dim)
        assert np.array_equal(batching.embed_documents(questions), plain.embed_documents(questions))
    finally:
        batching.close()


def test_the_service_batches_questions_when_the_setting_is_on(hash_service: QAService) -> None:
    settings = hash_service.settings.with_(batch_queries=True)
    batched = QAService(settings, hash_service.embedder, hash_service.index)
    assert isinstance(batched.retriever.embedder, BatchingEmbedder)
    try:
        for question in ("到2025年新制定国家标准多少项？", "未来产业包括哪些领域"):
            ours, theirs = batched.ask(question), hash_service.ask(question)
            assert (ours.answer, ours.citations) == (theirs.answer, theirs.citations)
    finally:
        batched.retriever.embedder.close()
    assert not isinstance(hash_service.retriever.embedder, BatchingEmbedder)  # off by default
