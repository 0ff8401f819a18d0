"""Writes that cannot half-happen: files and folders are built beside their target, then renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

# Building an index or converting the model takes under a minute: temporary folders older
# than this were left by killed runs and are removed by the next write.
STALE_SECONDS = 3600


def temp_sibling(dest: Path) -> Path:
    """A hidden, process-specific work folder beside `dest`, on the same file system."""
    return dest.parent / f".{dest.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"


def remove_stale_temps(dest: Path, older_than: float = STALE_SECONDS) -> None:
    """Delete work folders that killed writes into `dest` left behind."""
    for stale in dest.parent.glob(f".{dest.name}.tmp-*"):
        try:
            if time.time() - stale.stat().st_mtime > older_than:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:  # removed meanwhile by another process
            continue


def move_into_place(built: Path, dest: Path) -> None:
    """Rename a finished folder to `dest`; an existing `dest` is swapped out, never left half-written.

    Between the two renames of a swap `dest` is briefly absent; readers treat that as
    "not built yet", never as a damaged folder.
    """
    if not dest.exists():
        try:
            os.replace(built, dest)
            return
        except OSError:
            if not dest.exists():
                raise
    old = temp_sibling(dest)
    os.replace(dest, old)
    try:
        os.replace(built, dest)
    except OSError:
        os.replace(old, dest)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file so that readers see the old file or the new one, never half of it.

    mkstemp creates the temporary file private (0600); it gets the old file's mode, or 0644.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
