"""Vector stores: where chunk vectors are searched. FAISS in the process by default, Milvus to scale out.

A store holds one L2-normalised vector per chunk under the chunk's row number in the
index, and answers "the k nearest by inner product, optionally among these rows only".
`QA_VECTOR_STORE` picks it: `faiss` (default), `milvus-lite:PATH.db` (the embedded
engine, one process per file) or `milvus://host:port` / `http(s)://host:port` (a server
that several web workers and machines can share).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import faiss  # type: ignore[import-untyped]
import numpy as np

from qa.errors import VectorStoreError
from qa.retrieve.index import Index, Manifest

MILVUS_MAX_TOPK = 16384  # Milvus refuses a larger limit in one search
UPLOAD_ROWS = 2000  # rows per insert: far below gRPC's message limit at 384 dimensions
ID_FIELD = "id"
VECTOR_FIELD = "vector"
# One question is searched on one core, as it is encoded (QA_TORCH_THREADS): on two shared cores
# OpenMP's threads wait on each other (FAISS flat search at 100,000 × 384: 27 ms on two threads,
# 11 ms on one) and concurrent requests have the other core. OpenMP keeps this per calling thread.
SEARCH_THREADS = 1


class VectorStore(Protocol):
    """Chunk vectors under integer ids (the chunk's row in the index), searched by inner product."""

    @property
    def size(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best (scores, ids) for one query vector, best first; with allowed_ids, only among those ids."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest or a status page says about the store (never a password)."""
        ...


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)


class FaissStore:
    """Exact inner-product search in the process: a flat FAISS index (ids are its rows) or an IDMap over one."""

    def __init__(self, index: Any) -> None:
        self.index = index

    @classmethod
    def from_matrix(cls, vectors: np.ndarray, ids: np.ndarray | None = None) -> FaissStore:
        """A store over these vectors: rows 0..n-1, or the given ids."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        flat = faiss.IndexFlatIP(vectors.shape[1])
        store = cls(flat if ids is None else faiss.IndexIDMap2(flat))
        store.add(np.arange(len(vectors), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64), vectors)
        return store

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if isinstance(self.index, faiss.IndexIDMap):
            self.index.add_with_ids(vectors, ids)
        elif np.array_equal(ids, np.arange(self.size, self.size + len(ids))):
            self.index.add(vectors)  # a flat index numbers its rows itself
        else:
            raise ValueError("a flat FAISS index takes only the next row numbers as ids")

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        params = None
        if allowed_ids is not None:
            allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
            k = min(k, len(allowed))
            selector = faiss.IDSelectorBatch(allowed)
            params = faiss.SearchParameters()
            params.sel = selector  # `selector` stays referenced here until the search is done
        k = min(k, self.size)
        if k <= 0:
            return _empty()
        faiss.omp_set_num_threads(SEARCH_THREADS)
        scores, ids = self.index.search(np.ascontiguousarray(query, dtype=np.float32)[None, :], k, params=params)
        found = ids[0] >= 0
        return scores[0][found], ids[0][found].astype(np.int64)

    def describe(self) -> dict[str, Any]:
        return {"backend": "faiss", "metric": "inner_product", "vectors": self.size, "dim": int(self.index.d)}


@dataclass(frozen=True)
class StoreLocation:
    """A parsed QA_VECTOR_STORE: the backend and, for Milvus, the URI pymilvus connects to."""

    backend: str  # "faiss" or "milvus"
    uri: str = ""

    @property
    def embedded(self) -> bool:
        return self.uri.endswith(".db")


def parse_vector_store(spec: str) -> StoreLocation:
    """Read QA_VECTOR_STORE; a malformed value is a VectorStoreError naming the setting."""
    value = spec.strip()
    if value in ("", "faiss"):
        return StoreLocation("faiss")
    if value.startswith("milvus-lite:"):
        path = value.removeprefix("milvus-lite:")
        if not path.endswith(".db") or Path(path).name == ".db":
            raise VectorStoreError(f"QA_VECTOR_STORE={spec!r} 格式不对：milvus-lite 后面要写以 .db 结尾的文件路径，例如 milvus-lite:./milvus.db")
        return StoreLocation("milvus", str(Path(path).expanduser()))
    scheme, _, _ = value.partition("://")
    if scheme in ("milvus", "http", "https"):
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise VectorStoreError(f"QA_VECTOR_STORE={spec!r} 格式不对：要写出主机和端口，例如 milvus://127.0.0.1:19530")
        http_scheme = "https" if scheme == "https" else "http"
        return StoreLocation("milvus", f"{http_scheme}://{parts.netloc}{parts.path.rstrip('/')}")
    raise VectorStoreError(f"QA_VECTOR_STORE={spec!r} 无法识别：可选 faiss、milvus-lite:文件.db 或 milvus://主机:端口")


def collection_name(manifest: Manifest) -> str:
    """One Milvus collection per index: named from the corpus, the model and the chunking that made its vectors."""
    key = "|".join(
        str(v)
        for v in (
            manifest.corpus_fingerprint,
            manifest.model_fingerprint,
            manifest.dim,
            manifest.chunk_max_chars,
            manifest.chunk_overlap_chars,
            manifest.chunker_version,
            manifest.format_version,
        )
    )
    return "policy_qa_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _shown(uri: str) -> str:
    """The URI without a password, for messages."""
    parts = urlsplit(uri)
    return uri if not parts.password else uri.replace(f":{parts.password}@", ":***@")


@contextmanager
def _milvus_errors(uri: str, action: str) -> Iterator[None]:
    """Any failure talking to Milvus becomes one Chinese line naming the store."""
    try:
        yield
    except VectorStoreError:
        raise
    except Exception as exc:  # pymilvus raises MilvusException, grpc errors and OSError alike
        text = str(getattr(exc, "message", "") or exc).strip()
        reason = text.splitlines()[0][:200] if text else "服务没有响应"
        hint = "请检查 QA_VECTOR_STORE 和 Milvus 服务是否在运行"
        if uri.endswith(".db"):  # milvus-lite locks its file: one process only
            hint = "milvus-lite 的文件只能由一个进程打开，多个进程或多台机器请用 Milvus 服务（milvus://主机:端口）"
        raise VectorStoreError(f"向量库 Milvus（{_shown(uri)}）{action}失败：{reason}；{hint}") from None


class MilvusStore:
    """Vectors in one Milvus collection (exact FLAT search, inner product on normalised vectors)."""

    def __init__(self, uri: str, collection: str, dim: int, timeout: float = 10.0) -> None:
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.timeout = timeout
        with _milvus_errors(uri, "连接"):
            from pymilvus import MilvusClient

            if uri.endswith(".db"):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            # pymilvus logs every failed call with a traceback; the caller gets a VectorStoreError instead.
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
            self._client = MilvusClient(uri=uri, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def exists(self) -> bool:
        with _milvus_errors(self.uri, "查询集合"):
            return bool(self._client.has_collection(self.collection))

    def create(self) -> None:
        """A new empty collection (an old one of the same name is dropped), loaded for search."""
        from pymilvus import DataType, MilvusClient

        with _milvus_errors(self.uri, "建立集合"):
            if self._client.has_collection(self.collection):
                self._client.drop_collection(self.collection)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
            schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=self.dim)
            index_params = self._client.prepare_index_params()
            # FLAT is exact, so results match FAISS; a very large library may prefer HNSW on the server.
            index_params.add_index(field_name=VECTOR_FIELD, index_type="FLAT", metric_type="IP")
            self._client.create_collection(self.collection, schema=schema, index_params=index_params, consistency_level="Strong")

    def load(self) -> None:
        with _milvus_errors(self.uri, "加载集合"):
            self._client.load_collection(self.collection)

    @property
    def size(self) -> int:
        with _milvus_errors(self.uri, "统计向量"):
            rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        with _milvus_errors(self.uri, "写入向量"):
            for lo in range(0, len(ids), UPLOAD_ROWS):
                rows = [
                    {ID_FIELD: int(i), VECTOR_FIELD: v.tolist()}
                    for i, v in zip(ids[lo : lo + UPLOAD_ROWS], vectors[lo : lo + UPLOAD_ROWS], strict=True)
                ]
                self._client.insert(self.collection, rows)
            # Sealed segments are searched through their index; unflushed rows are scanned row by row
            # (in milvus-lite about 100 times slower at a few thousand rows).
            self._client.flush(self.collection)

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        expression = ""
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64)
            k = min(k, len(allowed))
            expression = f"{ID_FIELD} in [{','.join(str(int(i)) for i in allowed)}]"
        k = min(k, MILVUS_MAX_TOPK)
        if k <= 0:
            return _empty()
        with _milvus_errors(self.uri, "检索"):
            hits = self._client.search(
                self.collection,
                data=[np.asarray(query, dtype=np.float32).tolist()],
                limit=k,
                filter=expression,
                output_fields=[ID_FIELD],
                search_params={"metric_type": "IP"},
                anns_field=VECTOR_FIELD,
            )[0]
        scores = np.array([hit["distance"] for hit in hits], dtype=np.float32)
        ids = np.array([hit["id"] for hit in hits], dtype=np.int64)
        return scores, ids

    def describe(self) -> dict[str, Any]:
        return {"backend": "milvus", "uri": _shown(self.uri), "collection": self.collection, "metric": "inner_product", "dim": self.dim}


def index_vectors(index: Index) -> np.ndarray:
    """The chunk vectors the index folder holds, one row per chunk."""
    n = int(index.dense.ntotal)
    return index.dense.reconstruct_n(0, n) if n else np.zeros((0, index.manifest.dim), dtype=np.float32)


def open_vector_store(spec: str, index: Index, timeout: float = 10.0) -> VectorStore:
    """The store QA_VECTOR_STORE names, holding this index's vectors (uploaded to Milvus once per collection)."""
    location = parse_vector_store(spec)
    if location.backend == "faiss":
        return FaissStore(index.dense)
    store = MilvusStore(location.uri, collection_name(index.manifest), index.manifest.dim, timeout)
    n = len(index.chunks)
    if store.exists():
        store.load()
        if store.size == n:
            return store  # another worker or an earlier start uploaded this index already
    # A missing or half-written collection (a start killed mid-upload) is made again from the index folder.
    store.create()
    store.add(np.arange(n, dtype=np.int64), index_vectors(index))
    return store
