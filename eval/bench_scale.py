"""Every scale figure in one run (`eval/bench.py --scale`), as one Markdown table.

    nice .venv/bin/python eval/bench.py --scale [--sizes 1000,10000,100000] [--quick] [--markdown PATH]

Build throughput (the original fixed slices of 16 on PyTorch, length-sorted batches of 64, and
ONNX Runtime, taking turns in --runs paired rounds, with the cosine between their vectors); a server's start on a 10,000-passage library against
the model's load alone; ask latency at each library size against the bare encoder; FAISS
against milvus-lite search and a partial top-k against a full sort; questions encoded one by
one against micro-batched; HTTP load at 1, 8, 32 and 128 clients with /healthz probed; and the
memory of `qa serve --workers N`. The pieces are the other scripts' functions:
embed_backends.py (passages, passages/s), startup_bench.py (synthetic libraries, fresh-process
start-up), scale_bench.py (search, top-k, batching) and load.py (the load levels).

Large libraries get hash vectors at the model's dimension under the model's name and
fingerprint, so the index is the one the model would load and builds in seconds; questions
always go through the model that QA_MODEL (or --model) names. With `--model hash` the whole run
takes seconds: the tests run it so. Figures are printed, never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime
import io
import os
import pstats
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "eval")]  # the product, and the scripts whose functions this run reuses

import embed_backends  # noqa: E402
import load  # noqa: E402
import scale_bench  # noqa: E402
import startup_bench  # noqa: E402

from qa.evaluate.evaluation import percentile  # noqa: E402
from qa.fileio import write_text_atomic  # noqa: E402
from qa.retrieve.embedder import Embedder, HashEmbedder, load_embedder  # noqa: E402
from qa.retrieve.index import Index, embed_sorted  # noqa: E402
from qa.service import QAService, ensure_index  # noqa: E402
from qa.settings import Settings  # noqa: E402

SECTIONS = ("build", "startup", "ask", "search", "batching", "load", "workers")
NAIVE_SLICE = embed_backends.NAIVE_SLICE
SCALE_QUESTION = "第3号示例管理办法的第5条是什么"


@dataclass(frozen=True)
class Row:
    area: str
    figure: str
    value: str
    against: str = ""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds < 0.01 else f"{seconds * 1000:.0f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("s" if count != 1 else "")


def quantiles(seconds: Sequence[float], qs: Sequence[float] = (50, 95)) -> list[float]:
    return [percentile(list(seconds), q) or 0.0 for q in qs]


def timed_each(action: Callable[[str], object], items: Sequence[str]) -> list[float]:
    times = []
    for item in items:
        started = time.perf_counter()
        action(item)
        times.append(time.perf_counter() - started)
    return times


def quiet(_: str) -> None:
    pass


@contextlib.contextmanager
def all_cores() -> Iterator[None]:
    """Torch on every core while embedding passages, as `qa build` does; the server's one thread afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def library_embedder(embedder: Embedder) -> Embedder:
    """Hash vectors at the model's size under its name and fingerprint: what the model would load, built in seconds."""
    if isinstance(embedder, HashEmbedder):
        return embedder
    return startup_bench.ModelNamedHash(embedder.name, embedder.fingerprint, embedder.dim)


class Libraries:
    """Synthetic libraries (startup_bench's documents of 100 articles), built once per size in a work folder."""

    def __init__(self, work: Path, settings: Settings, embedder: Embedder) -> None:
        self.work, self.settings, self.embedder = work, settings, library_embedder(embedder)
        self.built: dict[int, tuple[Settings, float]] = {}

    def settings_for(self, passages: int) -> tuple[Settings, float, Index]:
        """A library of about `passages` passages: its settings, the seconds its build took (hash vectors), its index."""
        if passages in self.built:
            library, seconds = self.built[passages]
            return library, seconds, ensure_index(library, self.embedder, report=quiet)[0]
        corpus = self.work / f"library-{passages}"
        startup_bench.synthetic_library(corpus, passages)
        library = self.settings.with_(corpus_dir=corpus, index_dir=self.work / f"index-{passages}" / "index")
        started = time.perf_counter()
        index, _ = ensure_index(library, self.embedder, report=quiet)
        self.built[passages] = (library, time.perf_counter() - started)
        return library, self.built[passages][1], index


def child_env(settings: Settings, library: Settings | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_MODEL": settings.model, "QA_CACHE_DIR": str(settings.cache_dir)}
    if library is not None:
        env |= {"QA_CORPUS_DIR": str(library.corpus_dir), "QA_INDEX_DIR": str(library.index_dir)}
    return env


# --- build -----------------------------------------------------------------------------------


def build_rows(embedder: Embedder, settings: Settings, count: int, onnx: bool, runs: int = 3) -> list[Row]:
    """Passages/s of the original pipeline (PyTorch, fixed slices of 16) and of each build backend, paired.

    Every backend gets the length-sorted batches of `qa build` (Settings.embed_batch_size). The ways
    take turns within each of `runs` rounds (embed_backends.paired_rates), so a shared machine's
    load falls on them alike; medians are shown.
    """
    texts = embed_backends.bundled_passages(count)
    batch = settings.embed_batch_size
    ways: dict[str, Callable[[], np.ndarray]] = {
        "naive": lambda: embed_backends.naive_vectors(embedder, texts),
        "torch": lambda: embed_sorted(embedder, texts, batch),
    }
    failures: dict[str, str] = {}
    ready: dict[str, float] = {}
    if not isinstance(embedder, HashEmbedder):
        for backend in ("torch-bf16", *(("onnx", "onnx-int8") if onnx else ())):
            try:
                started = time.perf_counter()
                other = load_embedder(settings.with_(embed_backend=backend))
                ready[backend] = time.perf_counter() - started
            except Exception as exc:  # a backend that cannot run here is a figure too
                failures[backend] = str(exc).splitlines()[0][:120]
                continue
            ways[backend] = lambda other=other: embed_sorted(other, texts, batch)  # type: ignore[misc]
    with all_cores():
        for embed in ways.values():
            embed()  # warm-up: ONNX Runtime's passage session or worker processes are made
        rates, vectors = embed_backends.paired_rates(ways, len(texts), runs)
    where = f"{len(texts)} passages of the bundled text, {os.cpu_count()} cores, median of {runs} paired runs"
    naive = f"fixed slices of {NAIVE_SLICE}, PyTorch float32 ({rates['naive']:.1f}/s)"
    labels = {
        "torch": f"PyTorch float32, length-sorted batches of {batch} ({where})",
        "torch-bf16": "PyTorch, bfloat16 products (QA_BUILD_BACKEND=torch-bf16), same batches",
        "onnx": "ONNX Runtime, fused graph, one single-threaded process per core (QA_BUILD_BACKEND=onnx)",
        "onnx-int8": "ONNX Runtime, 4-bit matrices in int8 arithmetic (QA_BUILD_BACKEND=onnx-int8), same processes",
    }
    rows = []
    for way in (w for w in labels if w in rates):
        used = " (what `qa build` uses)" if way == settings.build_backend else ""
        load = f"; load {ready[way]:.0f} s" if way in ready else ""
        rows.append(
            Row(
                "build",
                f"passages/s, {labels[way]}{used}",
                f"{rates[way]:.1f}",
                f"{rates[way] / rates['naive']:.2f}× {naive}; cosine min {cosine_min(vectors[way], vectors['naive']):.6f}{load}",
            )
        )
    rows += [Row("build", backend, "unavailable", reason) for backend, reason in failures.items()]
    return rows


def cosine_min(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.min(np.sum(ours * theirs, axis=1)))


# --- start-up --------------------------------------------------------------------------------


def startup_rows(library: Settings, settings: Settings, runs: int, passages: int, serve: bool) -> list[Row]:
    env = child_env(settings, library)
    model = [startup_bench.child(startup_bench.MODEL_ALONE, env) for _ in range(runs)]
    ready = [startup_bench.child(startup_bench.SERVICE.format(question=SCALE_QUESTION), env) for _ in range(runs)]
    model_s = startup_bench.median([x["seconds"] for x in model])
    ready_s = startup_bench.median([x["seconds"] for x in ready])
    chunks = int(ready[0]["chunks"])
    rows = [
        Row(
            "start",
            "model load alone (fresh process)",
            f"{model_s:.2f} s",
            f"peak {startup_bench.median([x['peak_mb'] for x in model]):.0f} MB",
        ),
        Row(
            "start",
            f"ready service on {chunks:,} passages (`QAService.load`, fresh process)",
            f"{ready_s:.2f} s",
            f"{ready_s / model_s:.2f}× model load (floor ≤ 1.2×); peak {startup_bench.median([x['peak_mb'] for x in ready]):.0f} MB",
        ),
    ]
    if serve:
        serve_s = startup_bench.median([startup_bench.serve_to_healthz(env) for _ in range(runs)])
        rows.append(
            Row(
                "start",
                f"`qa serve` to `/healthz` 200 on {chunks:,} passages",
                f"{serve_s:.2f} s",
                f"{serve_s / model_s:.2f}× model load",
            )
        )
    return rows


# --- asking ----------------------------------------------------------------------------------


def ask_rows(
    libraries: Libraries, embedder: Embedder, sizes: Sequence[int], questions: Sequence[str], rounds: int, profile: int
) -> list[Row]:
    """Ask p50 / p95 at each size, each against the bare encoder timed on the same questions just before (load drifts)."""
    embedder.embed_queries(list(questions[:4]))  # warm-up
    rows = []
    first = 0.0
    for size in sizes:
        library, build_s, index = libraries.settings_for(size)
        service = QAService(library, embedder, index)
        for q in questions[:3]:
            service.ask(q)  # warm-up
        asked = list(questions) * rounds
        bare = quantiles(timed_each(lambda q: embedder.embed_queries([q]), asked))[0]
        p50, p95 = quantiles(timed_each(service.ask, asked))
        first = first or p50
        rows.append(
            Row(
                "ask",
                f"ask p50 / p95 in process, {len(index.chunks):,} passages (hash-built in {build_s:.0f} s), {len(asked)} questions",
                f"{ms(p50)} / {ms(p95)} ms",
                f"{p50 / bare:.2f}× the bare encoder ({ms(bare)} ms p50); {p50 / first:.2f}× the smallest library (floor ≤ 1.3× at 100k)",
            )
        )
        if profile and size == max(sizes):
            print_profile(service, questions, profile)
        del service, index
    return rows


def print_profile(service: QAService, questions: Sequence[str], top: int) -> None:
    """Where an ask spends its time at the largest size: the top functions by own and cumulative time, to stderr."""
    profiler = cProfile.Profile()
    profiler.enable()
    for q in questions:
        service.ask(q)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        print(out.getvalue(), file=sys.stderr)


# --- search, top-k, batching -----------------------------------------------------------------


def search_rows(sizes: Sequence[int], queries: int, milvus: bool, work: Path) -> list[Row]:
    questions = scale_bench.golden_questions()
    vectors = HashEmbedder(scale_bench.DIM).embed_queries([questions[i % len(questions)] + f" {i}" for i in range(queries)])
    rows = []
    for size in sizes:
        f = scale_bench.library_figures(size, scale_bench.synthetic_passages(size), vectors, milvus, work)
        where = f"{size:,} × {scale_bench.DIM}, k={scale_bench.K}, one thread"
        rows.append(Row("search", f"FAISS flat search p50 / p95, {where}", f"{f['faiss p50']:.2f} / {f['faiss p95']:.2f} ms"))
        if milvus:
            rows.append(
                Row(
                    "search",
                    f"milvus-lite search p50 / p95, {where}",
                    f"{f['milvus p50']:.1f} / {f['milvus p95']:.1f} ms",
                    f"{f['milvus p50'] / f['faiss p50']:.0f}× FAISS; same top-{scale_bench.K} scores {f['milvus same scores /20']:.0f}/20; "
                    f"upload {f['milvus upload s']:.1f} s",
                )
            )
        rows.append(
            Row(
                "search",
                f"top-{scale_bench.K} of {size:,} scores, partial selection p50",
                f"{f['partial p50']:.2f} ms",
                f"a full sort takes {f['sort p50']:.2f} ms, {f['sort p50'] / max(f['partial p50'], 1e-6):.1f}× as long",
            )
        )
    return rows


def batching_rows(embedder: Embedder, questions: list[str], per_thread: int) -> list[Row]:
    rows = []
    for threads in (1, 8, 32):
        alone = scale_bench.batcher_figures(questions, threads, per_thread, False, embedder.embed_queries)
        batched = scale_bench.batcher_figures(questions, threads, per_thread, True, embedder.embed_queries)
        rows.append(
            Row(
                "batching",
                f"question encoding, {plural(threads, 'thread')} asking, micro-batched: questions/s; p50 / p95",
                f"{batched['questions/s']:.1f}/s; {batched['p50 ms']:.0f} / {batched['p95 ms']:.0f} ms",
                f"{batched['questions/s'] / alone['questions/s']:.2f}× one by one ({alone['questions/s']:.1f}/s; "
                f"{alone['p50 ms']:.0f} / {alone['p95 ms']:.0f} ms)",
            )
        )
    return rows


# --- the server: load and workers ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(env: dict[str, str], workers: int = 1, timeout: float = 900) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`qa serve` on loopback until /healthz answers; stopped (the whole process group) at the end."""
    port = free_port()
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)] + (
        ["--workers", str(workers)] if workers > 1 else []
    )
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not asyncio.run(load.server_is_ready("127.0.0.1", port)):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"qa serve did not become ready: {shlex.join(command)}")
            time.sleep(0.2)
        yield server, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)
        server.wait(timeout=60)


def idle_health(port: int, count: int) -> list[float]:
    async def probe() -> list[float]:
        connection = load.Connection("127.0.0.1", port)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            await connection.request("GET", "/healthz")
            times.append(time.perf_counter() - started)
        connection.close()
        return times

    return asyncio.run(probe())


def process_tree(root: int) -> list[int]:
    """`root` and every process below it, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) of a process in MB: PSS shares pages that several processes map among them."""
    values = {}
    for name in ("smaps_rollup", "status"):
        with contextlib.suppress(OSError):
            for line in (Path("/proc") / str(pid) / name).read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("Pss", "VmRSS"):
                    values[key] = int(rest.split()[0]) / 1024
    return values.get("Pss", 0.0), values.get("VmRSS", 0.0)


def ask_a_few(port: int, questions: Sequence[str], count: int) -> None:
    async def asking() -> None:
        level = await load.run_level("127.0.0.1", port, 2, count, 120, list(questions))
        if not level.latencies_ms:
            raise RuntimeError("the server answered no question")

    asyncio.run(asking())


def load_rows(
    library: Settings, settings: Settings, clients: Sequence[int], requests: Sequence[int], questions: list[str]
) -> tuple[list[Row], float]:
    env = child_env(settings, library)
    rows = []
    with running_server(env) as (server, port):
        idle = quantiles(idle_health(port, 200))
        rows.append(Row("load", "`/healthz` idle p50 / p95 (200 in a row)", f"{ms(idle[0])} / {ms(idle[1])} ms"))
        single_rate = 0.0
        for concurrency, count in zip(clients, requests, strict=True):
            level = asyncio.run(load.run_level("127.0.0.1", port, concurrency, count, load.MAX_SECONDS, questions))
            answered = len(level.latencies_ms)
            rate = answered / level.seconds if level.seconds else 0.0
            single_rate = single_rate or rate
            p50, p95, p99 = (percentile(level.latencies_ms, q) or 0.0 for q in (50, 95, 99))
            h50, h95 = (percentile(level.health_ms, q) or 0.0 for q in (50, 95))
            failed = sum(n for outcome, n in level.outcomes.items() if outcome not in ("200", "503"))
            rows.append(
                Row(
                    "load",
                    f"{plural(concurrency, 'client')}, {count:,} requests: answers/s; p50 / p95 / p99",
                    f"{rate:.1f}/s; {p50:.0f} / {p95:.0f} / {p99:.0f} ms",
                    f"{rate / single_rate:.2f}× 1 client; {failed} failed, {level.outcomes['503']} refused (503, retried); "
                    f"`/healthz` p50 / p95 {h50:.1f} / {h95:.1f} ms",
                )
            )
        one_process = sum(memory_mb(pid)[0] for pid in process_tree(server.pid))
    return rows, one_process


def workers_rows(library: Settings, settings: Settings, workers: int, questions: Sequence[str], one_process: float) -> list[Row]:
    helped = subprocess.run(
        [sys.executable, "-m", "qa.cli", "serve", "--help"], env=child_env(settings), capture_output=True, text=True
    )
    if "--workers" not in helped.stdout:
        return [Row("workers", "`qa serve --workers N`", "no such option", "")]
    with running_server(child_env(settings, library), workers) as (server, port):
        ask_a_few(port, questions, 4 * workers)
        tree = process_tree(server.pid)
        memory = {pid: memory_mb(pid) for pid in tree}
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace") for pid in tree}
    serving = [pid for pid in tree if "spawn_main" in commands[pid] and memory[pid][1] > 0]
    serving.sort(key=lambda pid: -memory[pid][1])
    serving = serving[:workers]  # the workers: the largest spawned processes (not the resource tracker)
    rest = sum(memory[pid][0] for pid in tree if pid not in serving)
    each = " + ".join(f"{memory[pid][0]:.0f}" for pid in serving)
    rss = " + ".join(f"{memory[pid][1]:.0f}" for pid in serving)
    single = f"; one process alone {one_process:.0f} MB (PSS)" if one_process else ""
    return [
        Row(
            "workers",
            f"`qa serve --workers {workers}`: memory per worker, PSS (RSS) after answering",
            f"{each} MB ({rss} MB)",
            f"supervisor and helpers {rest:.0f} MB{single}",
        )
    ]


# --- the run ---------------------------------------------------------------------------------


def markdown(rows: Sequence[Row], header: Sequence[str]) -> str:
    lines = [*header, "", "| | figure | value | against |", "|---|---|---|---|"]
    lines += [f"| {r.area} | {r.figure} | {r.value} | {r.against} |" for r in rows]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eval/bench.py --scale", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="(this mode)")
    parser.add_argument("--quick", action="store_true", help="small sizes and counts: a check of the whole run in minutes")
    parser.add_argument("--model", help="the question model (QA_MODEL); `hash` runs in seconds without one")
    parser.add_argument("--sizes", help="library sizes in passages for asking and searching (default 1000,10000,100000)")
    parser.add_argument("--startup-passages", type=int, help="library size for start-up, load and workers (default 10000)")
    parser.add_argument("--build-passages", type=int, help="passages embedded for build throughput (default 500)")
    parser.add_argument("--runs", type=int, help="fresh processes per start-up figure, median shown (default 3)")
    parser.add_argument("--queries", type=int, help="searches timed per size (default 200)")
    parser.add_argument("--clients", default="1,8,32,128", help="concurrent HTTP clients, comma-separated")
    parser.add_argument("--load-requests", help="requests per client level, comma-separated (default 400,1000,10000,2000)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the `qa serve --workers` figure")
    parser.add_argument("--questions", type=int, help="golden questions asked per library size (default all)")
    parser.add_argument("--ask-rounds", type=int, default=2, help="passes over the questions at each library size")
    parser.add_argument("--per-thread", type=int, default=8, help="questions each batching thread encodes")
    parser.add_argument("--skip", default="", help=f"sections to leave out, comma-separated: {','.join(SECTIONS)}")
    parser.add_argument("--no-milvus", action="store_true")
    parser.add_argument("--no-onnx", action="store_true")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the top N functions of asking at the largest size"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file (atomically)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = [int(s) for s in (args.sizes or ("1000,10000" if quick else "1000,10000,100000")).split(",")]
    args.startup_passages = args.startup_passages or (2000 if quick else 10_000)
    args.build_passages = args.build_passages or (128 if quick else 500)
    args.runs = args.runs or (1 if quick else 3)
    args.queries = args.queries or (50 if quick else 200)
    args.clients = [int(c) for c in args.clients.split(",")]
    counts = args.load_requests or ("50,100,200,200" if quick else "400,1000,10000,2000")
    args.load_requests = [int(c) for c in counts.split(",")][: len(args.clients)]
    args.skip = {s for s in args.skip.split(",") if s}
    if args.skip - set(SECTIONS):
        parser.error(f"--skip: unknown sections {', '.join(sorted(args.skip - set(SECTIONS)))}")
    if len(args.load_requests) != len(args.clients):
        parser.error("--load-requests needs one count per --clients level")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings.from_env(model=args.model)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    embedder = load_embedder(settings)
    questions = scale_bench.golden_questions()[: args.questions]
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows: list[Row] = []

    def section(name: str, make: Callable[[], list[Row]]) -> None:
        if name not in args.skip:
            began = time.perf_counter()
            rows.extend(make())
            print(f"bench --scale: {name} done in {time.perf_counter() - began:.0f} s", file=sys.stderr)

    try:
        libraries = Libraries(work, settings, embedder)
        section("build", lambda: build_rows(embedder, settings, args.build_passages, not (args.no_onnx or args.quick), args.runs))
        needs_server_library = not {"startup", "load", "workers"} <= args.skip
        startup_library = libraries.settings_for(args.startup_passages)[0] if needs_server_library else settings
        section("startup", lambda: startup_rows(startup_library, settings, args.runs, args.startup_passages, serve=True))
        section("ask", lambda: ask_rows(libraries, embedder, args.sizes, questions, args.ask_rounds, args.profile))
        section("search", lambda: search_rows(args.sizes, args.queries, not args.no_milvus, work))
        section("batching", lambda: batching_rows(embedder, questions, args.per_thread))
        one_process: list[float] = []  # the memory of the one-process server of the load test

        def load_section() -> list[Row]:
            figures, memory = load_rows(startup_library, settings, args.clients, args.load_requests, questions)
            one_process.append(memory)
            return figures

        section("load", load_section)
        section("workers", lambda: workers_rows(startup_library, settings, args.workers, questions, sum(one_process)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model = Path(embedder.name).name or embedder.name
    header = [
        f"`{shlex.join(['eval/bench.py', *(sys.argv[1:] if argv is None else argv)])}` — {datetime.date.today().isoformat()}, "
        f"{os.cpu_count()} cores, question model {model}, load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end, {(time.perf_counter() - started) / 60:.0f} min in all.",
    ]
    table = markdown(rows, header)
    print(table)
    if args.markdown:
        write_text_atomic(args.markdown, table)
    return 0
