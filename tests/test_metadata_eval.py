"""`eval/metadata.py`: what the text alone gives, against what a document's JSON file says."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qa.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "eval"))

import metadata  # noqa: E402


def test_fields_the_text_gives_are_counted_against_the_json_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notice.txt").write_text(
        "关于做好参保工作的通知\n某医保发〔2025〕3号\n各区医保局：\n请按时缴费。\n某市医疗保障局\n2025年3月1日\n", encoding="utf-8"
    )
    given = {"title": "关于做好参保工作的通知", "doc_number": "某医保发〔2025〕3号", "issuers": ["某市医疗保障局"], "date_signed": "2025-03-02"}
    (tmp_path / "notice.json").write_text(json.dumps(given, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "orphan.json").write_text("{}", encoding="utf-8")  # no document of its name: not counted
    assert metadata.main(["--corpus", str(tmp_path), "--show"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"title": "1/1", "doc_number": "1/1", "issuers": "1/1", "date_signed": "0/1", "date_published": "0/0"}
    assert err.strip() == "notice.txt\tdate_signed\t'2025-03-02'\t'2025-03-01'"
