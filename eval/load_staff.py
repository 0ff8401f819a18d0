"""Load test: concurrent questions and feedback against `qa serve`, with the question log on.

    .venv/bin/python eval/load_staff.py [--concurrency 32] [--requests 600] [--workers 1] [--model hash] [--no-log]

Starts the server on a free loopback port with a fresh index folder and database, sends
golden questions from `--concurrency` threads (every third answer also gets 有用/没用; a
question refused with 503 is asked again after its Retry-After, its latency counted from the
first try), then reports errors, status codes, latency percentiles, the rows in the database and the
resident memory of each server process. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate.evaluation import percentile  # noqa: E402


def golden_questions() -> list[str]:
    lines = (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict) -> tuple[int, dict, float]:
    """Status, JSON body and the seconds Retry-After asks a refused client to wait."""
    request = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), 0.0
    except urllib.error.HTTPError as exc:
        return exc.code, {}, float(exc.headers.get("Retry-After", "1") or 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def server_processes(root_pid: int) -> list[int]:
    """The server and its worker processes (children, by /proc)."""
    pids = [root_pid]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(root_pid):
            pids.append(int(status.parent.name))
    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=600, help="questions in all (plus feedback on every third)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model", default=None, help="QA_MODEL for the server (default: the settings' model)")
    parser.add_argument("--no-log", action="store_true", help="switch the question log off, to compare")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="policy-qa-load-"))
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(work / "index"), "QA_DB_PATH": str(work / "qa.sqlite3"), "QA_PORT": str(port)}
    env["QA_LOG_QUESTIONS"] = "false" if args.no_log else "true"
    if args.model:
        env["QA_MODEL"] = args.model
    command = [sys.executable, "-m", "qa.cli", "serve", "--workers", str(args.workers)]
    log = open(work / "server.log", "w")  # noqa: SIM115 - open for the server's lifetime
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 300:
                    raise SystemExit(f"the server did not start; see {work / 'server.log'}") from None
                time.sleep(0.5)
        if args.workers > 1:
            time.sleep(5)  # /healthz answered by one worker; let the others finish loading
        questions = golden_questions()
        statuses: Counter[str] = Counter()
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        next_request = iter(range(args.requests))

        def client() -> None:
            for n in next_request:  # shared iterator: each request taken once (GIL makes next() atomic)
                question = questions[n % len(questions)]
                t0 = time.perf_counter()
                refused = 0
                try:
                    status, data, wait = post(base + "/api/ask", {"question": question})
                    while status == 503:  # more than QA_MAX_IN_FLIGHT at once: come back when told to
                        refused += 1
                        time.sleep(wait)
                        status, data, wait = post(base + "/api/ask", {"question": question})
                    elapsed = (time.perf_counter() - t0) * 1000  # from the first try to the answer
                    feedback_status = None
                    if status == 200 and n % 3 == 0:
                        about = {"answer_id": data["answer_id"]} if data.get("answer_id") else {"question": question, "answer": data["answer"]}
                        feedback_status, _, _ = post(base + "/api/feedback", {**about, "useful": n % 2 == 0, "comment": f"负载测试{n}"})
                except OSError as exc:
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    latencies.append(elapsed)
                    statuses[f"ask {status}"] += 1
                    statuses["ask 503, asked again"] += refused
                    if feedback_status is not None:
                        statuses[f"feedback {feedback_status}"] += 1

        wall = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall
        memory = {pid: rss_mb(pid) for pid in server_processes(server.pid)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()

    conn = sqlite3.connect(work / "qa.sqlite3")
    rows = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ("questions", "feedback")}
    conn.close()
    errors = len(failures) + sum(n for key, n in statuses.items() if not key.endswith((" 200", " 201", "asked again")))
    print(f"requests: {args.requests} questions from {args.concurrency} threads, {args.workers} worker(s), {wall:.1f} s")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"errors: {errors}" + (f" (e.g. {failures[0]})" if failures else ""))
    print(f"question latency p50 / p95: {percentile(latencies, 50):.0f} ms / {percentile(latencies, 95):.0f} ms")
    print(f"throughput: {len(latencies) / wall:.1f} questions/s")
    print(f"database rows: {rows['questions']} questions, {rows['feedback']} feedback")
    print("resident memory: " + ", ".join(f"pid {pid} {mb:.0f} MB" for pid, mb in memory.items()))
    print(f"server log: {work / 'server.log'}")


if __name__ == "__main__":
    main()
