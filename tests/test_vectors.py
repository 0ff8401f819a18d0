"""Vector stores: FAISS and Milvus (milvus-lite in a temporary folder) give the same neighbours."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.errors import QAError, VectorStoreError
from qa.retrieve.index import Index
from qa.retrieve.retrieval import Retriever
from qa.retrieve.vectors import (
    FaissStore,
    MilvusStore,
    StoreLocation,
    collection_name,
    index_vectors,
    open_vector_store,
    parse_vector_store,
)
from qa.service import QAService

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture()
def milvus_store(tmp_path: Path) -> Iterator[MilvusStore]:
    store = MilvusStore(str(tmp_path / "milvus.db"), "policy_qa_test", dim=32)
    store.create()
    yield store
    store.close()


def test_faiss_store_finds_the_exact_inner_product_neighbours() -> None:
    vectors = unit_vectors(300, 32, seed=1)
    store = FaissStore.from_matrix(vectors)
    query = vectors[7]
    scores, ids = store.search(query, 5)
    expected = np.argsort(-(vectors @ query), kind="stable")[:5]
    assert ids.tolist() == expected.tolist() and ids[0] == 7
    assert np.allclose(scores, (vectors @ query)[expected], atol=1e-5)
    assert store.size == 300 and store.describe()["backend"] == "faiss"


def test_faiss_store_keeps_to_the_allowed_ids_and_never_pads() -> None:
    vectors = unit_vectors(300, 32, seed=2)
    store = FaissStore.from_matrix(vectors)
    allowed = np.array([3, 50, 120, 299])
    scores, ids = store.search(vectors[7], 10, allowed_ids=allowed)
    assert sorted(ids.tolist()) == allowed.tolist()  # all four, no -1 fillers
    assert ids.tolist() == allowed[np.argsort(-(vectors[allowed] @ vectors[7]))].tolist()
    assert store.search(vectors[7], 10, allowed_ids=np.array([], dtype=np.int64))[1].tolist() == []


def test_faiss_store_with_own_ids_and_appends() -> None:
    vectors = unit_vectors(20, 8, seed=3)
    mapped = FaissStore.from_matrix(vectors, ids=np.arange(100, 120))
    assert mapped.search(vectors[4], 1)[1].tolist() == [104]
    assert mapped.search(vectors[4], 3, allowed_ids=np.array([110, 111]))[1].tolist() in ([110, 111], [111, 110])
    flat = FaissStore.from_matrix(vectors[:10])
    flat.add(np.arange(10, 20), vectors[10:])
    assert flat.size == 20 and flat.search(vectors[15], 1)[1].tolist() == [15]
    with pytest.raises(ValueError):
        flat.add(np.array([500]), vectors[:1])


def test_a_faiss_search_runs_on_one_thread_and_leaves_other_threads_as_they_are() -> None:
    import faiss  # type: ignore[import-untyped]

    store = FaissStore.from_matrix(unit_vectors(50, 8, seed=4))
    threads: dict[str, int] = {}

    def searching() -> None:
        faiss.omp_set_num_threads(2)  # as OpenMP starts on two cores
        store.search(unit_vectors(1, 8, seed=5)[0], 3)
        threads["searching"] = faiss.omp_get_max_threads()

    def bulk() -> None:
        faiss.omp_set_num_threads(2)
        threads["bulk"] = faiss.omp_get_max_threads()

    for work in (searching, bulk):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert threads == {"searching": 1, "bulk": 2}


def test_milvus_and_faiss_give_the_same_neighbours_on_random_vectors(milvus_store: MilvusStore) -> None:
    vectors = unit_vectors(500, 32, seed=4)
    faiss_store = FaissStore.from_matrix(vectors)
    milvus_store.add(np.arange(500), vectors)
    assert milvus_store.size == 500
    allowed = np.random.default_rng(5).choice(500, size=40, replace=False)
    for query in unit_vectors(10, 32, seed=6):
        f_scores, f_ids = faiss_store.search(query, 10)
        m_scores, m_ids = milvus_store.search(query, 10)
        assert m_ids.tolist() == f_ids.tolist()
        assert np.allclose(m_scores, f_scores, atol=1e-5)
        f_scores, f_ids = faiss_store.search(query, 5, allowed_ids=allowed)
        m_scores, m_ids = milvus_store.search(query, 5, allowed_ids=allowed)
        assert m_ids.tolist() == f_ids.tolist() and set(m_ids.tolist()) <= set(allowed.tolist())
    assert milvus_store.search(vectors[0], 5, allowed_ids=np.array([], dtype=np.int64))[1].tolist() == []


def test_store_settings_are_parsed_and_malformed_ones_refused_in_chinese() -> None:
    assert parse_vector_store("faiss") == StoreLocation("faiss")
    assert parse_vector_store("milvus://10.1.2.3:19530") == StoreLocation("milvus", "http://10.1.2.3:19530")
    assert parse_vector_store("https://user:pw@milvus.example:443") == StoreLocation("milvus", "https://user:pw@milvus.example:443")
    assert parse_vector_store("milvus-lite:/data/qa/milvus.db").embedded
    for malformed in ("milvus://", "milvus://host", "milvus://host:port", "milvus-lite:store.txt", "milvus-lite:", "redis://h:1", "faiss2"):
        with pytest.raises(VectorStoreError, match="QA_VECTOR_STORE"):
            parse_vector_store(malformed)


def test_an_unreachable_milvus_is_one_clear_error(hash_service: QAService) -> None:
    with pytest.raises(QAError, match=r"向量库 Milvus（http://127\.0\.0\.1:1）连接失败.*QA_VECTOR_STORE"):
        open_vector_store("milvus://127.0.0.1:1", hash_service.index, timeout=2)


def test_a_second_process_on_a_milvus_lite_file_is_told_to_use_a_server(tmp_path: Path) -> None:
    import subprocess
    import sys

    from qa.settings import PROJECT_ROOT

    store = MilvusStore(str(tmp_path / "milvus.db"), "policy_qa_test", dim=4)
    other = (
        "import sys\nfrom qa.errors import VectorStoreError\nfrom qa.retrieve.vectors import MilvusStore\n"
        f"try:\n    MilvusStore({str(tmp_path / 'milvus.db')!r}, 'policy_qa_test', dim=4)\n"
        "except VectorStoreError as exc:\n    print(exc)\n    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", other], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    store.close()
    assert done.returncode == 3, done.stderr[-500:]
    assert "只能由一个进程打开" in done.stdout and "milvus://" in done.stdout


def test_a_password_never_appears_in_the_description_or_errors() -> None:
    with pytest.raises(VectorStoreError) as caught:
        MilvusStore("http://staff:secret-word@127.0.0.1:1", "policy_qa_x", dim=4, timeout=2)
    assert "secret-word" not in str(caught.value) and "***" in str(caught.value)


def passages(retriever: Retriever, question: str, mode: str = "hybrid", doc_ids: list[str] | None = None) -> list[tuple[str, int | None]]:
    result = retriever.search(question, top_k=8, mode=mode, doc_ids=doc_ids)
    return [(p.chunk.chunk_id, p.dense_rank) for p in result.passages]


QUESTIONS = ["到2025年新制定国家标准多少项？", "未来产业包括哪些领域", "罚款多少钱", "申请补贴需要什么材料", "今天天气怎么样"]


def test_the_corpus_retrieves_the_same_passages_through_milvus(hash_service: QAService, tmp_path: Path) -> None:
    index: Index = hash_service.index
    faiss_retriever = Retriever(hash_service.embedder, index)
    store = open_vector_store(f"milvus-lite:{tmp_path / 'milvus.db'}", index)
    assert isinstance(store, MilvusStore) and store.size == len(index.chunks)
    assert store.collection == collection_name(index.manifest)
    milvus_retriever = Retriever(hash_service.embedder, index, store=store)
    some_docs = sorted(index.documents)[:2]
    for question in QUESTIONS:
        for mode in ("dense", "hybrid"):
            assert passages(milvus_retriever, question, mode) == passages(faiss_retriever, question, mode)
            assert passages(milvus_retriever, question, mode, some_docs) == passages(faiss_retriever, question, mode, some_docs)
    store.close()


def test_a_restricted_search_stays_within_the_chosen_documents(hash_service: QAService) -> None:
    index = hash_service.index
    retriever = Retriever(hash_service.embedder, index)
    chosen = sorted(index.documents)[-1]
    result = retriever.search("标准", top_k=30, mode="dense", doc_ids=[chosen])
    assert result.passages and {p.chunk.doc_id for p in result.passages} == {chosen}
    assert retriever.search("标准", top_k=5, mode="dense", doc_ids=["no-such-document"]).passages == []


def test_the_uploaded_collection_is_reused_and_a_half_written_one_rebuilt(
    hash_service: QAService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = hash_service.index
    uri = str(tmp_path / "milvus.db")
    first = open_vector_store(f"milvus-lite:{uri}", index)
    assert isinstance(first, MilvusStore)
    first.create()  # as if a start was killed half-way through the upload
    half = len(index.chunks) // 2
    first.add(np.arange(half), index_vectors(index)[:half])
    assert first.size == half
    rebuilt = open_vector_store(f"milvus-lite:{uri}", index)
    assert isinstance(rebuilt, MilvusStore) and rebuilt.size == len(index.chunks)

    def must_not_upload(*_: object) -> None:
        raise AssertionError("a complete collection is uploaded again")

    monkeypatch.setattr(MilvusStore, "create", must_not_upload)
    monkeypatch.setattr(MilvusStore, "add", must_not_upload)
    reused = open_vector_store(f"milvus-lite:{uri}", index)
    assert isinstance(reused, MilvusStore) and reused.size == len(index.chunks)
    for store in (first, rebuilt, reused):
        store.close()


def test_the_service_answers_the_same_with_milvus_as_the_vector_store(hash_service: QAService, tmp_path: Path) -> None:
    settings = hash_service.settings.with_(vector_store=f"milvus-lite:{tmp_path / 'milvus.db'}")
    milvus_service = QAService(settings, hash_service.embedder, hash_service.index)
    assert isinstance(milvus_service.retriever.store, MilvusStore)
    for question in QUESTIONS:
        ours, theirs = milvus_service.ask(question), hash_service.ask(question)
        assert (ours.found, ours.answer, ours.citations) == (theirs.found, theirs.answer, theirs.citations)
        assert [p.chunk.chunk_id for p in ours.passages] == [p.chunk.chunk_id for p in theirs.passages]


@pytest.mark.model
def test_the_golden_set_gives_the_same_results_with_milvus_lite(real_service: QAService, tmp_path: Path) -> None:
    from qa.evaluate.evaluation import evaluate, load_golden
    from qa.settings import PROJECT_ROOT

    golden = load_golden(PROJECT_ROOT / "eval" / "golden.jsonl")
    settings = real_service.settings.with_(vector_store=f"milvus-lite:{tmp_path / 'milvus.db'}")
    milvus_service = QAService(settings, real_service.embedder, real_service.index)
    assert isinstance(milvus_service.retriever.store, MilvusStore)
    with_faiss = evaluate(real_service, golden, real_service.settings.retriever)
    with_milvus = evaluate(milvus_service, golden, real_service.settings.retriever)
    assert with_milvus.outcomes == with_faiss.outcomes
    assert [r.answer.answer for r in with_milvus.results] == [r.answer.answer for r in with_faiss.results]
