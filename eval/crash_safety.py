"""Crash safety: kill `qa build` at random moments and between the steps of its swap, then ask.

    python eval/crash_safety.py [--kills 30] [--seed 1]

Works on a temporary copy of the corpus with the model-free `hash` embedder, so each round
takes a few seconds. For each kill it reports what the build left and whether the next
`qa ask` answered, correctly, from a complete index that was already there (the old one or
the new one, recovered if need be) rather than having to rebuild one. Half the random kills
fall anywhere in the build (mostly while it imports and embeds), half within a few ms of the
moment it starts writing its version folder (writing, swapping, removing old versions).
The step kills run `qa build` in a child that SIGKILLs itself just before a given rename,
link or removal of the swap: with the versioned layout, and from an `index` folder written
before versions existed (whose swap needs two renames).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "未来产业有哪些？"
ROUND_TIMEOUT_S = 120
PLAIN = "(plain folder)"
LATE_WINDOW_S = 0.02  # writing, swapping and pruning the bundled corpus's index takes a few ms

# (layout, function, call number): the child is killed just before that call of the swap.
STEP_KILLS = [
    ("versioned", "symlink", 1),  # the new version written, the link not yet made
    ("versioned", "replace", 1),  # the link made, not yet renamed over `index`
    ("versioned", "rmtree", 1),  # swapped, old versions not yet removed
    ("plain", "replace", 1),  # `index` is a plain folder, about to be moved among the versions
    ("plain", "replace", 2),  # between the two renames: `index` is absent
]

CHILD = """
import os, shutil, signal, sys
from qa import fileio
from qa.cli import main

function, number = sys.argv[1], int(sys.argv[2])
module = shutil if function == "rmtree" else os
original = getattr(module, function)
calls = []

def killed_before(*args, **kwargs):
    calls.append(args)
    if len(calls) == number:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

setattr(fileio.shutil if function == "rmtree" else fileio.os, function, killed_before)
sys.exit(main(["build"]))
"""


@dataclass
class Workspace:
    root: Path

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def versions(self) -> Path:
        return self.root / ".index.versions"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "QA_MODEL": "hash",
            "QA_CORPUS_DIR": str(self.root / "corpus"),
            "QA_INDEX_DIR": str(self.index),
        }

    def qa(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qa.cli", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=ROUND_TIMEOUT_S,
        )

    def version_names(self) -> set[str]:
        return {p.name for p in self.versions.iterdir()} if self.versions.is_dir() else set()

    def indexes_on_disk(self) -> set[str]:
        """The versions, and PLAIN when `index` is a plain folder."""
        return self.version_names() | ({PLAIN} if self.live_name() == PLAIN else set())

    def live_name(self) -> str | None:
        """The live version's name; PLAIN for an `index` folder written before versions existed."""
        if self.index.is_symlink():
            return self.index.resolve().name if self.index.is_dir() else None
        return PLAIN if self.index.is_dir() else None

    def make_plain(self) -> None:
        """Turn `index` into a plain folder, as written before versions existed."""
        live = self.index.resolve()
        self.index.unlink()
        live.rename(self.index)


def answer_of(completed: subprocess.CompletedProcess[str]) -> dict[str, object] | None:
    if completed.returncode != 0:
        return None
    answer = json.loads(completed.stdout)
    answer.pop("latency_ms", None)
    return dict(answer)


def check_next_ask(space: Workspace, expected: dict[str, object]) -> tuple[bool, str]:
    """Ask once; True when it answered as expected from an index already on disk (no rebuild)."""
    before = space.indexes_on_disk()
    answer = answer_of(space.qa("ask", "--json", QUESTION))
    live = space.live_name()
    if answer != expected:
        return False, "wrong or no answer"
    if live is None or live not in before:
        return False, "rebuilt"
    return True, "ok"


def what_was_left(space: Workspace, before: set[str]) -> str:
    """Where the killed build had got to, judged from the versions it left."""
    new = space.version_names() - before
    if space.live_name() in new:
        return "swapped in"
    if any((space.versions / name / "manifest.json").exists() for name in new):
        return "written, not swapped"
    if new:
        return "writing"
    return "before writing"


def wait_for_new_version(space: Workspace, before: set[str], build: subprocess.Popen[bytes]) -> None:
    """Return as soon as the build creates its version folder (or ends)."""
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while build.poll() is None and time.monotonic() < deadline and not space.version_names() - before:
        time.sleep(0.001)


def random_kills(space: Workspace, kills: int, expected: dict[str, object], rng: random.Random) -> Counter[str]:
    started = time.monotonic()
    space.qa("build")
    build_s = time.monotonic() - started
    tally: Counter[str] = Counter()
    for round_number in range(kills):
        late = round_number % 2 == 1
        before = space.version_names()
        build = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "build"],
            cwd=ROOT,
            env=space.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if late:  # while it writes and swaps: a few ms after its version folder appears
            wait_for_new_version(space, before, build)
            delay = rng.uniform(0, LATE_WINDOW_S)
        else:
            delay = rng.uniform(0, build_s)
        time.sleep(delay)
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
            phase = what_was_left(space, before)
        else:
            phase = "finished before the kill"
        build.wait(timeout=ROUND_TIMEOUT_S)
        ok, why = check_next_ask(space, expected)
        tally[f"{'ok' if ok else 'FAILED'} ({phase}{'' if ok else ', ' + why})"] += 1
        when = f"{delay * 1000:4.0f} ms after it began writing" if late else f"{delay:5.2f} s after start"
        print(f"  random kill {round_number + 1:2d}, {when}: {phase}: {why}", file=sys.stderr)
    return tally


def step_kills(space: Workspace, expected: dict[str, object]) -> list[tuple[str, bool, str]]:
    results = []
    for layout, function, number in STEP_KILLS:
        space.qa("build")
        space.qa("build")  # a live version and a previous one, so the swap has something to remove
        if layout == "plain":
            space.make_plain()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, function, str(number)],
            cwd=ROOT,
            env=space.env(),
            capture_output=True,
            timeout=ROUND_TIMEOUT_S,
        )
        killed = child.returncode == -signal.SIGKILL
        ok, why = check_next_ask(space, expected)
        label = f"{layout} index, before {function} #{number}"
        results.append((label, killed and ok, why if killed else f"not killed (exit {child.returncode})"))
        print(f"  step kill: {label}: {'killed' if killed else 'NOT killed'}, {why}", file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30, help="random kills of `qa build`")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-steps", action="store_true", help="skip the kills between the swap's steps")
    args = parser.parse_args()
    if not 0 <= args.kills <= 1000:
        parser.error("--kills must be between 0 and 1000")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="qa-crash-") as tmp:
        space = Workspace(Path(tmp))
        shutil.copytree(ROOT / "corpus", space.root / "corpus")
        if space.qa("build").returncode != 0:
            print("the first build failed", file=sys.stderr)
            return 2
        expected = answer_of(space.qa("ask", "--json", QUESTION))
        assert expected is not None and expected["found"], "the reference question must be answered"
        tally = random_kills(space, args.kills, expected, rng)
        steps = [] if args.no_steps else step_kills(space, expected)
    answered = sum(n for outcome, n in tally.items() if outcome.startswith("ok"))
    print(f"random kills: the next `qa ask` answered from a complete index {answered}/{args.kills} times")
    for outcome, n in sorted(tally.items()):
        print(f"  {n:3d}  {outcome}")
    if steps:
        print(f"kills at a step of the swap: {sum(ok for _, ok, _ in steps)}/{len(steps)} answered from a complete index")
        for label, ok, why in steps:
            print(f"  {'ok    ' if ok else 'FAILED'}  {label}: {why}")
    return 0 if answered == args.kills and all(ok for _, ok, _ in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
