"""Golden questions written by staff (from the review page or `qa golden add`), appended to a JSONL file.

The file has the format of `eval/golden.jsonl`, so `qa eval` grades it and the regression
test (`tests/test_staff_golden.py`) runs it. Each append rewrites the file atomically under
a lock beside it, so two staff members adding at once (even from two server workers) both
land, and a crash leaves the file as it was.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qa.evaluate.evaluation import GoldenQuestion, GoldenSetError, load_golden, parse_golden_line
from qa.fileio import write_text_atomic
from qa.text.normalize import normalize, to_simplified

STAFF_KIND = "staff"


def golden_id(question: str) -> str:
    """A stable id from the question's normalised text: the same question always gets the same id."""
    return "staff-" + hashlib.sha1(normalize(question).encode("utf-8")).hexdigest()[:10]


def split_facts(text: str) -> list[str]:
    """Facts typed one a line (blank lines dropped, spaces around each removed)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def new_golden_question(
    question: str,
    all_of: Sequence[str] = (),
    any_of: Sequence[str] = (),
    refuse: bool = False,
    kind: str = STAFF_KIND,
    lang: str = "",
) -> GoldenQuestion:
    """A checked golden question: an answer that must hold the facts, or a refusal."""
    question = question.strip()
    all_of = [f.strip() for f in all_of if f.strip()]
    any_of = [f.strip() for f in any_of if f.strip()]
    if not question:
        raise GoldenSetError("问题不能为空。")
    if refuse and (all_of or any_of):
        raise GoldenSetError("“应当拒答”的问题不需要填写要点，请二选一。")
    if not refuse and not (all_of or any_of):
        raise GoldenSetError("请至少填写一个答案应包含的要点，或者选择“应当拒答”。")
    row = {
        "id": golden_id(question),
        "question": question,
        "kind": kind.strip() or STAFF_KIND,
        "lang": lang.strip() or ("zh-Hant" if to_simplified(question) != question else "zh-Hans"),
        "all": all_of,
        "any": any_of,
        "answerable": not refuse,
    }
    return parse_golden_line(json.dumps(row, ensure_ascii=False))  # the same checks as the golden file's


def golden_line(question: GoldenQuestion) -> str:
    """One JSON line in the golden files' key order."""
    row = {
        "id": question.id,
        "question": question.question,
        "kind": question.kind,
        "lang": question.lang,
        "all": list(question.all_of),
        "any": list(question.any_of),
        "answerable": question.answerable,
    }
    return json.dumps(row, ensure_ascii=False)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a small file beside `path`, shared by every process that appends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_golden(path: Path, question: GoldenQuestion) -> GoldenQuestion:
    """Add a question to a golden file (created when missing); a question already there is refused."""
    try:
        with _locked(path):
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            existing = load_golden(path) if text.strip() else []
            asked = normalize(question.question)
            for other in existing:
                if other.id == question.id or normalize(other.question) == asked:
                    raise GoldenSetError(f"这个问题已在 {path} 中（编号 {other.id}）。")
            if text and not text.endswith("\n"):
                text += "\n"
            write_text_atomic(path, text + golden_line(question) + "\n")
    except OSError as exc:
        raise GoldenSetError(f"无法写入 {path}：{exc.strerror or exc}") from None
    return question
