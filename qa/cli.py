"""The `qa` command: build the index, ask questions, evaluate, serve the web app."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qa.errors import QAError
from qa.settings import RETRIEVERS, Settings
from qa.types import Answer


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        model=getattr(args, "model", None),
    )


def cmd_build(args: argparse.Namespace) -> int:
    from qa.retrieve.embedder import load_embedder
    from qa.retrieve.index import tqdm_progress
    from qa.service import ensure_index

    settings = _settings(args)
    started = time.perf_counter()
    embedder = load_embedder(settings)
    loaded = time.perf_counter()
    index, _ = ensure_index(settings, embedder, force=True, progress=tqdm_progress("建立索引"))
    m = index.manifest
    print(
        f"built {settings.index_dir}: {m.documents} document(s), {m.chunks} chunks, model {m.model} (dim {m.dim}); "
        f"model load {loaded - started:.1f}s, index build {m.build_seconds:.1f}s"
    )
    return 0


def format_answer(answer: Answer) -> str:
    """An answer for a person: the answer first, then each quote with where it comes from."""
    lines = [f"问：{answer.question}", f"答：{answer.answer}"]
    for n, c in enumerate(answer.citations, start=1):
        lines.append(f"  [{n}] {c.title} › {c.section.split(' › ', 1)[-1]}  (字符 {c.start}–{c.end})")
        lines.append(f"      “{c.text}”")
    lines.append(f"({answer.latency_ms:.0f} ms)")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.service import QAService

    service = QAService.load(_settings(args))
    if args.question:
        answer = service.ask(" ".join(args.question), top_k=args.top_k, retriever=args.retriever)
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else format_answer(answer))
        return 0
    if not args.json:
        raise QAError('no question given; use `qa ask "问题"`, or `qa ask --json` to read questions from standard input')
    status = 0
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            print(
                json.dumps({"question": line.rstrip("\r\n"), "error": f"第{number}行不是有效的 UTF-8 文字"}, ensure_ascii=False),
                flush=True,
            )
            status = 1
            continue
        if not line.strip():
            continue
        try:
            print(
                json.dumps(service.ask(line, top_k=args.top_k, retriever=args.retriever).to_json(), ensure_ascii=False),
                flush=True,
            )
        except QAError as exc:  # one bad line does not end the stream
            print(json.dumps({"question": line.rstrip("\r\n"), "error": str(exc)}, ensure_ascii=False), flush=True)
            status = 1
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.evaluate.evaluation import run_eval_command

    return run_eval_command(args, _settings(args))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from qa.service import QAService
    from web.app import create_app
    from web.limits import server_options

    settings = _settings(args)
    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    # Load (and on first run build) before listening: a model or index that cannot load is
    # one clear error line here, not a traceback from inside the server.
    service = QAService.load(settings)
    print(f"policy-qa: http://{settings.host}:{settings.port}/", file=sys.stderr)
    uvicorn.run(create_app(settings, service), log_level="info", **server_options(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Grounded answers from Chinese policy documents.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="corpus folder (QA_CORPUS_DIR)")
    common.add_argument("--index", type=Path, help="index folder (QA_INDEX_DIR)")
    common.add_argument("--model", help="embedding model: name or local folder (QA_MODEL)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", parents=[common], help="build or rebuild the index")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", parents=[common], help="answer a question with cited quotes")
    p.add_argument("question", nargs="*", help="the question; with --json and none, read one a line from stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.add_argument("--top-k", type=int, default=None, help="passages to return (QA_TOP_K)")
    p.add_argument("--retriever", choices=RETRIEVERS, default=None, help="retriever (QA_RETRIEVER)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", parents=[common], help="grade answers against a golden set")
    p.add_argument("golden", type=Path, help="golden questions, one JSON object a line")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    p.add_argument("--compare", type=Path, help="baseline JSON: list questions that changed")
    p.add_argument("--save-baseline", type=Path, help="write this run as the new baseline")
    p.add_argument("--retriever", choices=RETRIEVERS, action="append", help="retriever(s) to run (repeatable)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", parents=[common], help="run the web app")
    p.add_argument("--host", default=None, help="address to listen on (QA_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (QA_PORT)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
