"""Benchmark: model load, index build and load (with its checksums), query latency, HTTP latency, memory.

    .venv/bin/python eval/bench.py [--http] [--rounds 3]
    nice .venv/bin/python eval/bench.py --scale [--quick] [--markdown PATH]   # libraries of 1k–100k passages, load, workers (eval/bench_scale.py)

Figures are printed, never asserted: timings on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate.evaluation import percentile  # noqa: E402
from qa.ingest.corpus import load_corpus  # noqa: E402
from qa.retrieve.embedder import load_embedder  # noqa: E402
from qa.retrieve.index import build_index, load_index, read_manifest, read_verified, save_index  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402


def questions() -> list[str]:
    lines = (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(index_dir: Path, requests: int, serve_command: str) -> dict[str, float]:
    """Start the server on loopback, time until /healthz answers, then time /api/ask sequentially."""
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "QA_PORT": str(port)}
    started = time.perf_counter()
    server = subprocess.Popen(
        shlex.split(serve_command),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = started + 300
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.perf_counter() > deadline or server.poll() is not None:
                    raise RuntimeError("server did not become ready") from None
                time.sleep(0.1)
        ready = time.perf_counter() - started
        qs = questions()
        latencies = []
        for n in range(requests):
            body = json.dumps({"question": qs[n % len(qs)], "top_k": 5}).encode()
            request = urllib.request.Request(base + "/api/ask", data=body, headers={"Content-Type": "application/json"})
            t = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
            latencies.append((time.perf_counter() - t) * 1000)
        return {
            "serve_to_healthz_s": ready,
            "http_p50_ms": percentile(latencies, 50) or 0.0,
            "http_p95_ms": percentile(latencies, 95) or 0.0,
            "requests": requests,
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the whole group: `make serve` runs qa as a child
        server.wait(timeout=10)


def _best_ms(action: Callable[[], object], repeats: int = 5) -> float:
    """The fastest of a few runs, in ms: the cost itself, without the machine's noise."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        action()
        times.append((time.perf_counter() - t) * 1000)
    return min(times)


def main() -> None:
    if "--scale" in sys.argv[1:]:
        from bench_scale import main as scale_main  # eval/bench_scale.py, beside this script

        sys.exit(scale_main(sys.argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the golden questions")
    parser.add_argument("--http", action="store_true", help="also measure the web app over loopback")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--serve-command", default=f"{sys.executable} -m qa.cli serve", help="how to start the server ('make serve')"
    )
    args = parser.parse_args()

    settings = Settings.from_env()
    t = time.perf_counter()
    embedder = load_embedder(settings)
    load_s = time.perf_counter() - t
    documents = load_corpus(settings.corpus_dir).documents
    t = time.perf_counter()
    index = build_index(
        documents, embedder, settings.chunk_max_chars, settings.chunk_overlap_chars, batch_size=settings.embed_batch_size
    )
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        save_index(index, Path(tmp) / "index")
        folder = (Path(tmp) / "index").resolve()
        load_ms = _best_ms(lambda: load_index(folder))
        checksum_ms = _best_ms(lambda: read_verified(folder, read_manifest(folder)))
        service = QAService(settings.with_(index_dir=Path(tmp) / "index"), embedder, index)
        qs = questions()
        service.ask(qs[0])  # warm-up
        latencies = [service.ask(q).latency_ms for _ in range(args.rounds) for q in qs]
        report: dict[str, float | str | int] = {
            "model": settings.model,
            "model_load_s": round(load_s, 2),
            "index_build_s": round(build_s, 2),
            "index_load_ms": round(load_ms, 2),
            "of_which_checksums_ms": round(checksum_ms, 2),
            "chunks": len(index.chunks),
            "queries": len(latencies),
            "query_p50_ms": round(percentile(latencies, 50) or 0.0, 2),
            "query_p95_ms": round(percentile(latencies, 95) or 0.0, 2),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if args.http:
            report.update({k: round(v, 2) for k, v in bench_http(Path(tmp) / "index", args.requests, args.serve_command).items()})
    for key, value in report.items():
        print(f"{key:20s} {value}")


if __name__ == "__main__":
    main()
