"""The error a reader raises for a file it cannot read: one Chinese line that names the file."""

from __future__ import annotations

import errno

from qa.errors import CorpusError


class UnreadableFile(CorpusError):
    """One corpus file cannot be read; the others still load, and this message says why it was skipped."""


def os_reason(exc: OSError) -> str:
    """Why the operating system would not give a file's bytes, in Chinese."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "没有读取这个文件的权限"
    if exc.errno == errno.EISDIR:
        return "这是文件夹，不是文件"
    if exc.errno == errno.ENOENT:
        return "文件已不存在（读取时被移走或删除）"
    return f"无法读取（系统错误 {exc.errno}）"
