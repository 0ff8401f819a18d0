"""`eval/rewrap.py`: the library cut at one width, and cleaning that gives its paragraphs back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qa.ingest.corpus import load_corpus
from qa.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "eval"))

import rewrap  # noqa: E402


def test_the_rewrapped_copy_of_a_corpus_reads_back_as_the_same_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    paragraphs = [
        "关于做好城乡居民医疗保险参保工作的通知",
        "一、参保范围",
        "本市行政区域内未参加职工基本医疗保险的城乡居民，包括学生、儿童和其他非从业人员，均可参加城乡居民医疗保险。",
        "二、缴费标准",
        "个人缴费标准为每人每年400元，享受最低生活保障的人员个人缴费部分由财政全额资助，不需要另行申请，由民政部门统一报送。",
        "集中缴费期为每年9月1日至12月31日，逾期缴费的设置3个月待遇等待期，待遇等待期内发生的医疗费用不予报销，请按时缴费。",
    ]
    (source / "notice.txt").write_text("\n".join(paragraphs), encoding="utf-8")
    (source / "notice.json").write_text(json.dumps({"doc_number": "某医保发〔2025〕3号"}), encoding="utf-8")
    out = tmp_path / "rewrapped"
    assert rewrap.main([str(out), "--corpus", str(source), "--width", "20"]) == 0
    assert json.loads(capsys.readouterr().out) == {"documents": 1, "width": 20, "paragraphs_back": "6/6"}
    assert max(len(line) for line in (out / "notice.txt").read_text(encoding="utf-8").splitlines()) == 20
    [doc] = load_corpus(out).documents
    assert doc.text.strip().split("\n\n") == paragraphs
    assert doc.doc_number == "某医保发〔2025〕3号"
    assert rewrap.main([str(out), "--corpus", str(source)]) == 2  # an existing folder is never written into
