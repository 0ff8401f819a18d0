"""The JSON file beside a document: its metadata, validated field by field.

Every problem is one Chinese line naming the file and the field: a wrong type (an id that
is a list, a date that is an object), an unsafe id, an unknown field, nesting too deep to
read, a file too large. Fields the file does not give stay None, so the document's own text
can supply them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from qa.ingest.decoding import decode_text
from qa.ingest.errors import UnreadableFile, os_reason

# Letters (汉字 included), digits, - _ . ; starting with a letter or digit, so an id is safe
# in a URL and a file name: no "..", "/", "?", "#".
ID_PATTERN = r"^[\w][\w.\-]*$"
MAX_ID_CHARS = 100
MAX_METADATA_BYTES = 1_000_000

DocId = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=MAX_ID_CHARS)]
ShortText = Annotated[str, StringConstraints(max_length=2000)]


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    label: ShortText
    question: ShortText


class Sidecar(BaseModel):
    """What a `<name>.json` beside `<name>.txt` (or .docx, .pdf…) may say about the document."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: DocId | None = None
    title: ShortText | None = None
    doc_number: ShortText | None = None
    issuers: list[ShortText] | None = None
    date_signed: str | None = None
    date_published: str | None = None
    source: ShortText | None = None
    examples: list[ShortText] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)

    @field_validator("date_signed", "date_published")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("date") from None
            if len(value) != 10:
                raise ValueError("date")
        return value


_JSON_TYPES = {list: "列表", dict: "对象", str: "文字", int: "数字", float: "数字", bool: "true/false", type(None): "null"}
_EXPECTED = {
    "string_type": "应为文字",
    "list_type": "应为列表",
    "model_type": "应为对象（{…}）",
    "dict_type": "应为对象（{…}）",
    "missing": "缺少这一项",
    "string_too_long": "太长",
    "extra_forbidden": "不是可识别的字段",
}


def _field_name(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts.append(f"第{part + 1}项")
        else:
            parts.append(str(part))
    return " ".join(parts)


def describe_error(name: str, error: Any) -> str:
    """One Chinese line for the first validation error: the file, the field, what is wrong."""
    field = _field_name(tuple(error["loc"]))
    kind = error["type"]
    if kind == "string_pattern_mismatch":
        problem = "只能由字母、汉字、数字和 - _ . 组成，并以字母、汉字或数字开头"
    elif kind == "value_error":
        problem = "应为 2023-08-03 这样的日期（年-月-日）"
    elif kind == "extra_forbidden":
        problem = f"不是可识别的字段（可用：{'、'.join(Sidecar.model_fields)}）"
    elif kind == "string_too_long":
        problem = f"太长（最多 {error.get('ctx', {}).get('max_length', '')} 字）"
    else:
        problem = _EXPECTED.get(kind, "取值不合法")
        given = _JSON_TYPES.get(type(error.get("input")))
        if kind.endswith("_type") and given:
            problem += f"，而不是{given}"
    return f"{name}：字段 {field} {problem}"


def read_sidecar(path: Path, name: str) -> Sidecar:
    """Read and validate a metadata file; UnreadableFile (one line naming file and field) otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{name}：{os_reason(exc)}") from None
    if len(data) > MAX_METADATA_BYTES:
        raise UnreadableFile(f"{name}：元数据文件过大（{len(data) // 1000} KB，上限 {MAX_METADATA_BYTES // 1000} KB）")
    text = decode_text(data, name).text
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"{name}：不是有效的 JSON（第{exc.lineno}行第{exc.colno}列）") from None
    except RecursionError:
        raise UnreadableFile(f"{name}：JSON 嵌套层数过深，无法读取") from None
    if not isinstance(raw, dict):
        raise UnreadableFile(f"{name}：应为一个 JSON 对象（{{…}}），而不是{_JSON_TYPES.get(type(raw), '其他内容')}")
    try:
        return Sidecar.model_validate(raw)
    except ValidationError as exc:
        raise UnreadableFile(describe_error(name, exc.errors()[0])) from None
    except RecursionError:
        raise UnreadableFile(f"{name}：JSON 嵌套层数过深，无法读取") from None
