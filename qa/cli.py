"""The `qa` command: build the index, ask questions, evaluate, serve the web app, and the staff tools.

Every message is Chinese and uses the web app's words. Input and settings are checked
before the model loads, so a mistake costs a moment, not the model's load time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from qa.errors import QAError
from qa.settings import RETRIEVERS, Settings
from qa.types import Answer

ERROR_PREFIX = "错误："
WORKER_READY_SECONDS = 120  # how long a new server worker may take to load the model


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        model=getattr(args, "model", None),
    )


def _notice(line: str) -> None:
    """A one-line notice on stderr, leaving stdout to the command's result."""
    print(f"提示：{line}", file=sys.stderr)


def _progress(label: str) -> Any:
    """A progress bar on a terminal; nothing when the output goes to a file or a pipe."""
    if not sys.stderr.isatty():
        return None
    from qa.retrieve.index import tqdm_progress

    return tqdm_progress(label)


def cmd_build(args: argparse.Namespace) -> int:
    from qa.retrieve.embedder import load_build_embedder
    from qa.service import check_corpus_folder, ensure_index

    settings = _settings(args)
    check_corpus_folder(settings)
    started = time.perf_counter()
    embedder = load_build_embedder(settings, report=_notice)
    loaded = time.perf_counter()
    index, _ = ensure_index(settings, embedder, force=True, progress=_progress("建立索引"))
    m = index.manifest
    print(
        f"索引已建立：{settings.index_dir}，{m.documents} 份文件，{m.chunks} 个段落，模型 {m.model}（{m.dim} 维）；"
        f"加载模型 {loaded - started:.1f} 秒，建立索引 {m.build_seconds:.1f} 秒"
    )
    return 0


def build_library(settings: Settings) -> None:
    """Build the index (incrementally) after the library changed, printing what changed."""
    from qa.retrieve.embedder import load_build_embedder
    from qa.service import ensure_index

    embedder = load_build_embedder(settings, report=_notice)
    index, _ = ensure_index(settings, embedder, force=True, progress=_progress("建立索引"), report=print)
    print(f"索引已更新：{index.manifest.documents} 份文件，{index.manifest.chunks} 个段落，用时 {index.manifest.build_seconds:.1f} 秒")


def cmd_add(args: argparse.Namespace) -> int:
    from qa.library import add_files
    from qa.service import check_corpus_folder

    settings = _settings(args)
    check_corpus_folder(settings)
    added, errors = add_files(settings.corpus_dir, list(args.files), replace=args.replace)
    words = {"added": "已加入", "replaced": "已替换", "same": "已在文档库中（内容相同）"}
    for item in added:
        print(f"{words[item.outcome]}：{item.name}" + (f"（编号 {item.doc_id}）" if item.doc_id else ""))
    for line in errors:
        print(f"{ERROR_PREFIX}{line}", file=sys.stderr)
    if any(item.outcome != "same" for item in added) and not args.no_build:
        build_library(settings)
    return 2 if errors else 0


def cmd_remove(args: argparse.Namespace) -> int:
    from qa.library import REMOVED_FOLDER, remove_document
    from qa.service import check_corpus_folder

    settings = _settings(args)
    check_corpus_folder(settings)
    moved = remove_document(settings.corpus_dir, args.doc_id)
    print(f"已移除 {args.doc_id}：{'、'.join(moved)}（移到 {settings.corpus_dir / REMOVED_FOLDER}，需要时可移回）")
    if not args.no_build:
        build_library(settings)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from qa.library import library_rows
    from qa.service import check_corpus_folder

    settings = _settings(args)
    check_corpus_folder(settings)
    rows = library_rows(settings)
    if args.json:
        for row in rows:
            print(json.dumps(row.__dict__, ensure_ascii=False))
        return 0
    documents = [r for r in rows if r.doc_id]
    print(f"文档库 {settings.corpus_dir}：{len(documents)} 份文档" + (f"，{len(rows) - len(documents)} 个文件已跳过" if len(rows) > len(documents) else ""))
    for row in rows:
        if row.doc_id:
            print(f"{row.doc_id}\t{row.title}\t{row.doc_number or '（无文号）'}\t{row.date or '（无日期）'}\t{row.chunks} 段\t{row.status}")
        else:
            print(f"{row.file}\t{row.status}")
    return 0


def format_answer(answer: Answer) -> str:
    """An answer for a person: the answer first, then each quote with where it comes from."""
    lines = [f"问：{answer.question}"]
    if answer.interpreted:
        lines.append(f"理解为：{answer.interpreted}")
    lines.append(f"答：{answer.answer}")
    for n, c in enumerate(answer.citations, start=1):
        number = f"（{c.doc_number}）" if c.doc_number else ""
        where = c.section.split(" › ", 1)[-1]
        lines.append(f"  [{n}] {c.title}{number}{f' › {where}' if where else ''}  (字符 {c.start}–{c.end})")
        lines.append(f"      “{c.text}”")
    lines.append(f"（用时 {answer.latency_ms:.0f} 毫秒）")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.service import QAService, check_corpus_folder, validate_question, validate_top_k

    settings = _settings(args)
    # Everything that can be checked without the model is checked first.
    question = validate_question(" ".join(args.question), settings.max_question_chars) if args.question else None
    if args.top_k is not None:
        validate_top_k(args.top_k)
    if question is None and not args.json:
        raise QAError('没有输入问题：请用 qa ask "问题"，或用 qa ask --json 从标准输入逐行读取问题。')
    check_corpus_folder(settings)
    service = QAService.load(settings)
    if question is not None:
        answer = service.ask(question, top_k=args.top_k, retriever=args.retriever, doc_ids=args.doc)
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else format_answer(answer))
        return 0
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
                json.dumps(service.ask(line, top_k=args.top_k, retriever=args.retriever, doc_ids=args.doc).to_json(), ensure_ascii=False),
                flush=True,
            )
        except QAError as exc:  # one bad line does not end the stream
            print(json.dumps({"question": line.rstrip("\r\n"), "error": str(exc)}, ensure_ascii=False), flush=True)
            status = 1
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.evaluate.evaluation import run_eval_command

    return run_eval_command(args, _settings(args))


def golden_with_corpus(spec: str, settings: Settings) -> tuple[Path, Path]:
    """"eval/x.jsonl=eval/library" → (golden set, corpus folder); the configured corpus when none is named."""
    path, _, corpus = spec.partition("=")
    return Path(path), Path(corpus) if corpus else settings.corpus_dir


def cmd_fit(args: argparse.Namespace) -> int:
    from qa.answer.scoring import WEIGHTS_PATH, Weights
    from qa.evaluate.evaluation import load_golden
    from qa.evaluate.fit import cross_validate, run_fit, training_rows
    from qa.service import service_for_corpus

    settings = _settings(args)
    specs = [golden_with_corpus(spec, settings) for spec in args.golden]
    # Candidates and features do not depend on the weights; the prior only stands in for a stale file.
    sets = [(path, load_golden(path), service_for_corpus(settings, corpus, Weights.prior())) for path, corpus in specs]
    if args.cross_validate:
        results = cross_validate(training_rows(sets))
        for r in results:
            print(f"{r.document}\t可答 {r.answered}/{r.answerable}\t拒答 {r.refused}/{r.unanswerable}")
        answered, answerable = sum(r.answered for r in results), sum(r.answerable for r in results)
        refused, unanswerable = sum(r.refused for r in results), sum(r.unanswerable for r in results)
        print(
            f"留一文档交叉验证（{len(results)} 份文档）：可答 {answered}/{answerable}，"
            f"拒答 {refused}/{unanswerable}，共 {answered + refused}/{answerable + unanswerable}"
        )
        return 0
    out = args.out or WEIGHTS_PATH
    data = run_fit(sets, out)
    print(json.dumps({k: data[k] for k in ("coef", "bias", "threshold", "figures")}, ensure_ascii=False))
    print(f"已写入 {out}")
    return 0


def _preload(settings: Settings) -> str:
    """Load the service once (building the index if needed) in a child process; the error message, or ""."""
    from qa.service import QAService

    try:
        QAService.load(settings, show_progress=False)
    except QAError as exc:
        return str(exc)
    return ""


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from web.accesslog import log_config
    from web.records import Records

    settings = _settings(args)
    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    if args.workers < 1:
        raise QAError(f"--workers 必须是正整数，不能是 {args.workers}。")
    from qa.service import check_corpus_folder

    check_corpus_folder(settings)
    Records.open(settings).close()  # a database that cannot be opened is one clear line, before the model loads
    where = f"http://{settings.host}:{settings.port}/"
    from web.limits import server_options

    common: dict[str, Any] = {
        **server_options(settings),  # address, keep-alive, request head limits
        "log_config": log_config(),
        "access_log": False,  # our own JSON access lines carry the request id and latency
    }
    if args.workers == 1:
        from qa.service import QAService
        from web.app import create_app

        # Load (and on first run build) before listening: a model or index that cannot load is
        # one clear error line here, not a traceback from inside the server.
        service = QAService.load(settings)
        print(f"policy-qa：{where}", file=sys.stderr)
        uvicorn.run(create_app(settings, service), **common)
        return 0
    # Several workers: each process loads its own model. Check once in a throw-away process
    # first (it builds the index if needed), so that the workers only load.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        problem = pool.submit(_preload, settings).result()
    if problem:
        raise QAError(problem)
    # The workers read their settings from the environment, command-line options included.
    for name, value in (("CORPUS_DIR", args.corpus), ("INDEX_DIR", args.index), ("MODEL", args.model)):
        if value is not None:
            os.environ[f"QA_{name}"] = str(value)
    print(f"policy-qa：{where}（{args.workers} 个进程）", file=sys.stderr)
    # SIGHUP replaces the workers one at a time, each new one serving before the old one
    # stops (documents updated without downtime); loading the model takes longer than
    # uvicorn's default 5 s wait for a worker to be ready.
    uvicorn.run(
        "web.serve:app_from_env", factory=True, workers=args.workers, timeout_worker_healthcheck=WORKER_READY_SECONDS, **common
    )
    return 0


def cmd_golden_add(args: argparse.Namespace) -> int:
    from qa.evaluate.staff_golden import append_golden, new_golden_question

    settings = Settings.from_env()
    path = args.file or settings.staff_golden_path
    golden = new_golden_question(" ".join(args.question), args.fact or [], args.any or [], refuse=args.refuse, kind=args.kind, lang=args.lang)
    append_golden(path, golden)
    expect = "应当拒答" if args.refuse else "应包含：" + "、".join([*golden.all_of, *golden.any_of])
    print(f"已加入回归测试：{golden.id}（{expect}）→ {path}")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from qa.feedback import FeedbackStore
    from qa.fileio import write_text_atomic

    settings = Settings.from_env()
    path = settings.database_path
    if not path.is_file():
        raise QAError(f"数据库 {path} 不存在：还没有人提问或反馈，或请检查 QA_DB_PATH。")
    store = FeedbackStore(path, retention_days=0)
    try:
        text = "\ufeff" + store.export_csv("questions" if args.log else "feedback")  # the BOM: spreadsheets then read UTF-8
    finally:
        store.close()
    rows = text.count("\r\n") - 1
    if args.output is None:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    else:
        try:
            write_text_atomic(args.output, text)
        except OSError as exc:
            raise QAError(f"无法写入 {args.output}：{exc.strerror or exc}") from None
        print(f"已导出 {rows} 条{'提问记录' if args.log else '反馈'}：{args.output}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# argparse in Chinese


class ChineseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


_ARGPARSE_MESSAGES = (
    (re.compile(r"the following arguments are required: (.+)"), r"缺少参数：\1"),
    (re.compile(r"argument (\S+): invalid int value: (.+)"), r"参数 \1 应为整数，不能是 \2"),
    (re.compile(r"argument (\S+): invalid choice: (\S+) \(choose from (.+)\)"), r"参数 \1 不能是 \2，可选：\3"),
    (re.compile(r"argument (\S+): expected one argument"), r"参数 \1 后面需要一个值"),
    (re.compile(r"unrecognized arguments: (.+)"), r"无法识别的参数：\1"),
    (re.compile(r"argument (\S+): not allowed with argument (\S+)"), r"参数 \1 不能和 \2 一起使用"),
)


class ChineseArgumentParser(argparse.ArgumentParser):
    """argparse with Chinese usage, section titles, help and error lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        add_help = kwargs.get("add_help", True)
        kwargs["add_help"] = False  # our own -h, with Chinese help
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示这段帮助后退出")

    def error(self, message: str) -> NoReturn:
        for pattern, chinese in _ARGPARSE_MESSAGES:
            if pattern.fullmatch(message):
                message = pattern.sub(chinese, message)
                break
        self.exit(2, f"{ERROR_PREFIX}{message}（用 {self.prog} --help 查看用法）\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(prog="qa", description="政策问答：答案摘自政策文件原文，并注明出处。")
    common = ChineseArgumentParser(prog="qa", add_help=False)
    common._optionals.title = "通用选项"
    common.add_argument("--corpus", type=Path, help="文件夹：政策文件（QA_CORPUS_DIR）")
    common.add_argument("--index", type=Path, help="文件夹：索引（QA_INDEX_DIR）")
    common.add_argument("--model", help="向量模型：名称或本地文件夹（QA_MODEL）")
    sub = parser.add_subparsers(dest="command", required=True, title="命令", metavar="<命令>", parser_class=ChineseArgumentParser)
    parents = [common]

    def add(name: str, help_text: str, with_common: bool = True) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=parents if with_common else [], help=help_text, description=help_text)

    p = add("build", "建立或重建索引")
    p.set_defaults(func=cmd_build)

    p = add("ask", "提问，回答附带引用的原文")
    p.add_argument("question", nargs="*", help="问题；与 --json 一起且不给问题时，从标准输入逐行读取")
    p.add_argument("--json", action="store_true", help="每个问题输出一个 JSON 对象")
    p.add_argument("--top-k", type=int, default=None, help="返回的段落数，1 到 50（QA_TOP_K）")
    p.add_argument("--retriever", choices=RETRIEVERS, default=None, help="检索方式（QA_RETRIEVER）")
    p.add_argument("--doc", action="append", default=None, metavar="编号", help="只在这份文档中查找答案（可重复；编号见 qa list）")
    p.set_defaults(func=cmd_ask)

    p = add("add", "把文件加入文档库（复制到语料文件夹，不改动原文件），然后更新索引")
    p.add_argument("files", nargs="+", type=Path, help="文件：.txt .md .html .docx .pdf，以及同名的 .json 元数据")
    p.add_argument("--replace", action="store_true", help="替换文档库中同名但内容不同的文件")
    p.add_argument("--no-build", action="store_true", help="只复制文件，暂不更新索引")
    p.set_defaults(func=cmd_add)

    p = add("remove", "从文档库移除一份文档（文件移到语料文件夹的 .removed 中），然后更新索引")
    p.add_argument("doc_id", metavar="编号", help="文档编号（见 qa list）")
    p.add_argument("--no-build", action="store_true", help="只移除文件，暂不更新索引")
    p.set_defaults(func=cmd_remove)

    p = add("list", "列出文档库中的文档：编号、标题、文号、日期、段落数、状态")
    p.add_argument("--json", action="store_true", help="每份文档输出一个 JSON 对象")
    p.set_defaults(func=cmd_list)

    p = add("eval", "用标准问题集评测回答")
    p.add_argument("golden", type=Path, help="标准问题集：每行一个 JSON 对象")
    p.add_argument("--json", action="store_true", help="以 JSON 输出报告")
    p.add_argument("--report", type=Path, help="把报告写成一个独立的 HTML 文件")
    p.add_argument("--compare", type=Path, help="与基线 JSON 比较，列出结果有变化的问题")
    p.add_argument("--save-baseline", type=Path, help="把这次的结果保存为新的基线")
    p.add_argument("--retriever", choices=RETRIEVERS, action="append", help="要评测的检索方式（可重复）")
    p.add_argument("--doc", action="append", default=None, metavar="编号", help="每个问题只在这份文档中提问，如同在文档页上提问（可重复；编号见 qa list）")
    p.set_defaults(func=cmd_eval)

    p = add("fit", "用标准问题集拟合答案打分的权重")
    p.add_argument("golden", nargs="+", help="用于拟合的问题集，写作 PATH 或 PATH=语料文件夹（不要用留出集）")
    p.add_argument("--out", type=Path, default=None, help="权重文件（默认 qa/answer/weights.json）")
    p.add_argument("--cross-validate", action="store_true", help="不写权重：逐一留出每份文档的问题，用其余文档拟合后评测它们")
    p.set_defaults(func=cmd_fit)

    p = add("serve", "运行网页服务")
    p.add_argument("--host", default=None, help="监听地址（QA_HOST）")
    p.add_argument("--port", type=int, default=None, help="端口（QA_PORT）")
    p.add_argument("--workers", type=int, default=1, help="进程数：每个进程各自加载模型（约 1 GB 内存）")
    p.set_defaults(func=cmd_serve)

    golden = add("golden", "工作人员的回归测试题", with_common=False)
    golden_sub = golden.add_subparsers(dest="golden_command", required=True, title="命令", metavar="<命令>", parser_class=ChineseArgumentParser)
    p = golden_sub.add_parser("add", help="加入一道回归测试题", description="加入一道回归测试题（默认写入 QA_STAFF_GOLDEN_PATH）")
    p.add_argument("question", nargs="+", help="问题")
    p.add_argument("--fact", action="append", help="答案和引用中必须包含的要点（可重复）")
    p.add_argument("--any", action="append", help="包含其中任一即可的要点（可重复）")
    p.add_argument("--refuse", action="store_true", help="这个问题应当拒答（文件中没有答案）")
    p.add_argument("--kind", default="staff", help="题目类别（默认 staff）")
    p.add_argument("--lang", default="", help="写法：zh-Hans、zh-Hant 等（默认按问题判断）")
    p.add_argument("--file", type=Path, default=None, help="写入的文件（QA_STAFF_GOLDEN_PATH，默认 eval/staff.jsonl）")
    p.set_defaults(func=cmd_golden_add)

    feedback = add("feedback", "用户反馈与提问记录", with_common=False)
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True, title="命令", metavar="<命令>", parser_class=ChineseArgumentParser)
    p = feedback_sub.add_parser("export", help="导出为 CSV（UTF-8 带 BOM，表格软件可直接打开）", description="导出反馈（或提问记录）为 CSV")
    p.add_argument("--log", action="store_true", help="导出提问记录，而不是反馈")
    p.add_argument("-o", "--output", type=Path, default=None, help="写入的文件；不给时输出到标准输出")
    p.set_defaults(func=cmd_feedback_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except QAError as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:  # a fault of the program: one clear line for the user, the traceback in the log
        logging.getLogger("qa").exception("内部错误")
        print(f"{ERROR_PREFIX}程序内部出错，未能完成；详情已写入日志，请把问题报告给维护人员。", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
