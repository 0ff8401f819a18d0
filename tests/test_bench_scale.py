"""`eval/bench.py --scale` at tiny sizes with the hash model: every in-process figure and the load test, in seconds.

The start-up and `--workers` sections start several fresh Python processes (tens of seconds
even with the hash model); the helpers they rest on beyond the other scripts' own, the
process tree and its memory, are checked here on a child process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qa.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "eval"))

import bench_scale  # noqa: E402


@pytest.fixture(autouse=True)
def hash_model_everywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_MODEL", "hash")
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))


def test_the_scale_mode_runs_end_to_end_and_writes_its_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "out" / "scale.md"
    table.parent.mkdir()
    argv = [
        "--scale",
        "--model",
        "hash",
        "--sizes",
        "200,400",
        "--startup-passages",
        "200",
        "--build-passages",
        "32",
        "--queries",
        "5",
        "--questions",
        "6",
        "--per-thread",
        "2",
        "--clients",
        "1,3",
        "--load-requests",
        "6,9",
        "--no-milvus",
        "--skip",
        "startup,workers",
        "--markdown",
        str(table),
    ]
    assert bench_scale.main(argv) == 0
    printed = capsys.readouterr().out
    written = table.read_text(encoding="utf-8")
    assert written in printed and [p.name for p in table.parent.iterdir()] == ["scale.md"]  # no temporary file left
    rows = [line for line in written.splitlines() if line.startswith("| ") and "---" not in line][1:]
    areas = [row.split(" | ")[0].strip("| ") for row in rows]
    assert areas == ["build", *["ask"] * 2, *["search"] * 4, *["batching"] * 3, *["load"] * 3]
    assert "cosine min 1.000000" in rows[0]  # sorted batches give the very vectors of fixed slices
    assert "× the bare encoder" in rows[1] and "1.00× the smallest library" in rows[1]
    assert "3 clients, 9 requests" in rows[-1] and "0 failed" in rows[-1] and "`/healthz` p50 / p95" in rows[-1]


def test_the_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_scale.parse_args(["--skip", "everything"])
    with pytest.raises(SystemExit):
        bench_scale.parse_args(["--clients", "1,8", "--load-requests", "5"])
    quick = bench_scale.parse_args(["--quick"])
    assert quick.sizes == [1000, 10000] and quick.runs == 1 and len(quick.load_requests) == 4
    assert "unknown sections" in capsys.readouterr().err


def test_the_memory_of_a_process_tree_is_read_from_proc() -> None:
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(100):
            tree = bench_scale.process_tree(parent.pid)
            if len(tree) == 2:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert tree[0] == parent.pid and len(tree) == 2
        pss, rss = bench_scale.memory_mb(tree[1])
        assert 0 < pss <= rss < 1000
    finally:
        for pid in reversed(bench_scale.process_tree(parent.pid)):
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait(timeout=10)
