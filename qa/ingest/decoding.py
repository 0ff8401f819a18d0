"""Bytes to text for plain-text documents: UTF-8, GB18030/GBK, and a detector as a last resort.

Offices save Chinese text in UTF-8 (with or without a BOM), in GBK from older editors, or in
UTF-16 from Notepad's "Unicode". The common cases are decided by strict decoding, which
either succeeds or fails; charset-normalizer is asked only when both fail.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from qa.ingest.errors import UnreadableFile

# A NUL byte in the first few KB marks a binary file (UTF-16 text is recognised by its BOM first).
_BINARY_PROBE = 8192
# Share of characters a Chinese document is made of when decoded right: CJK, ASCII, punctuation.
_PLAUSIBLE_SHARE = 0.9


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # "utf-8", "gb18030", "utf-16" or what the detector named


def _plausible_char(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x80
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3000 <= code <= 0x303F  # CJK punctuation
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x2000 <= code <= 0x206F  # general punctuation: — “ ” …
        or ch in "\u00a0·×÷°±"
        or 0x2150 <= code <= 0x218F  # number forms: Ⅰ Ⅱ
        or 0x2460 <= code <= 0x24FF  # enclosed numbers: ①
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
    )


def plausible_text(text: str) -> bool:
    """True when nearly every character is one a Chinese or ASCII document is made of."""
    sample = text[:20000]
    if not sample:
        return True
    return sum(map(_plausible_char, sample)) >= _PLAUSIBLE_SHARE * len(sample)


def decode_text(data: bytes, name: str, declared: str | None = None) -> Decoded:
    """Decode a text file's bytes; `declared` is an encoding the file names itself (an HTML meta tag).

    Raises UnreadableFile (naming `name`) for binary or undecodable content.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile(f"{name}：文件以 UTF-16 标记开头，但内容无法按 UTF-16 读取") from None
    if b"\x00" in data[:_BINARY_PROBE]:
        raise UnreadableFile(f"{name}：这是二进制文件，不是文字文件")
    candidates = ["utf-8"]
    if declared:
        candidates.append(_python_codec(declared))
    candidates.append("gb18030")
    for encoding in dict.fromkeys(c for c in candidates if c):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        # GB18030 decodes many non-Chinese byte strings too; accept it only when the result reads as Chinese.
        if encoding == "utf-8" or plausible_text(text):
            return Decoded(text, encoding)
    return _detect(data, name)


def _python_codec(declared: str) -> str:
    """The Python codec for an encoding a page declares; GB2312 and GBK pages are read as GB18030, their superset."""
    label = declared.strip().lower()
    if label in {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn"}:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return ""


def _detect(data: bytes, name: str) -> Decoded:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise UnreadableFile(f"{name}：无法识别文字编码，请另存为 UTF-8 后再试")
    text = str(best)
    if not plausible_text(text):
        raise UnreadableFile(f"{name}：无法识别文字编码（像是 {best.encoding}，但读出的不是中文），请另存为 UTF-8 后再试")
    return Decoded(text, best.encoding)
