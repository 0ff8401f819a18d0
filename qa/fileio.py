"""Writes that cannot half-happen: files and folders are built beside their target, then renamed.

A folder that is replaced while readers use it (the index) is published as a version: the
live path is a symbolic link to one version folder, and publishing a new version replaces
that link in one atomic rename, so the old or the new folder is in place at every instant.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
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


def versions_folder(live: Path) -> Path:
    """The hidden folder beside `live` that holds its versions: `.index.versions/` for `index`."""
    return live.parent / f".{live.name}.versions"


def new_version(live: Path) -> Path:
    """A new empty version folder for `live`, named after the time it was started."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
    folder = versions_folder(live) / f"{stamp}.{now % 10**9:09d}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


def live_version(live: Path) -> Path | None:
    """The version folder `live` points at, or None when it is not a link to an existing folder."""
    if not live.is_symlink() or not live.is_dir():
        return None
    return live.resolve()


def publish_version(version: Path, live: Path) -> Path | None:
    """Point `live` at `version` with one atomic rename of a link; returns the version it replaced.

    An ordinary folder at `live` (written before versions existed) is first moved among the
    versions: the one moment `live` is absent, which `restore_live_link` repairs after a crash.
    """
    previous = live_version(live)
    link = live.parent / f".{live.name}.link-{os.getpid()}-{time.monotonic_ns()}"
    os.symlink(os.path.relpath(version, live.parent), link)
    try:
        if live.is_dir() and not live.is_symlink():
            previous = new_version(live)
            os.replace(live, previous)
        os.replace(link, live)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    return previous


def remove_old_versions(live: Path, keep: Iterable[Path | None], marker: str) -> None:
    """Delete the versions of `live` other than `keep`, except ones that may still be being written.

    A version is complete once it holds `marker` (written last); one without it that changed
    within STALE_SECONDS may be another build at work and is left alone. Links left by killed
    publishes go too.
    """
    kept = {path.resolve() for path in keep if path is not None}
    for version in versions_folder(live).glob("*"):
        try:
            if version.resolve() in kept:
                continue
            if not (version / marker).exists() and time.time() - version.stat().st_mtime < STALE_SECONDS:
                continue
        except OSError:  # removed meanwhile by another process
            continue
        shutil.rmtree(version, ignore_errors=True)
    for link in live.parent.glob(f".{live.name}.link-*"):  # made by a build killed before renaming it
        with contextlib.suppress(OSError):
            if time.time() - link.lstat().st_mtime > STALE_SECONDS:
                link.unlink()


def restore_live_link(live: Path, usable: Callable[[Path], bool]) -> bool:
    """When `live` is missing or points nowhere, point it at the newest usable version; True if it did.

    A process killed between the two renames of `publish_version` leaves `live` absent next to
    complete versions: start-up recovers one instead of rebuilding from scratch.
    """
    if live.exists() or not versions_folder(live).is_dir():
        return False
    # A folder's time is that of the last file created in it: a version's is when it was finished.
    versions = [v for v in versions_folder(live).iterdir() if v.is_dir()]
    for version in sorted(versions, key=lambda v: v.stat().st_mtime_ns, reverse=True):
        if usable(version):
            publish_version(version, live)
            return True
    return False
