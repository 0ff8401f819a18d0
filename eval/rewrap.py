"""The library as users also have it: every document's text cut into lines of one width.

Text copied out of a PDF, or saved from a terminal or an old editor, keeps the line breaks of
its layout: every sentence longer than the width is cut into pieces. This writes such a copy of
a corpus folder (each document as UTF-8 text cut at `--width` characters, its JSON beside it),
so that the same questions can be asked of it and the answers compared with those on the
documents as they are laid out:

    PYTHONPATH=$PWD python eval/rewrap.py /tmp/rewrapped [--width 38]
    qa build --corpus /tmp/rewrapped --index /tmp/rewrapped-index
    qa eval eval/library/dev.jsonl --corpus /tmp/rewrapped --index /tmp/rewrapped-index

Prints one JSON line: the documents written, and how many of their paragraphs cleaning the
rewrapped text gives back exactly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from qa.ingest.corpus import clean_text, load_corpus
from qa.settings import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "eval" / "library" / "docs"


def rewrap(text: str, width: int) -> str:
    """A document's paragraphs cut into lines of `width` characters."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "\n".join(p[i : i + width] for p in paragraphs for i in range(0, len(p), width)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write (must not exist)")
    parser.add_argument("--corpus", type=Path, default=SOURCE)
    parser.add_argument("--width", type=int, default=38)
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"{args.out} 已存在：请指定一个新的文件夹", file=sys.stderr)
        return 2
    loaded = load_corpus(args.corpus)
    partial = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    kept = total = 0
    for doc in loaded.documents:
        wrapped = rewrap(doc.text, args.width)
        (partial / f"{doc.doc_id}.txt").write_text(wrapped, encoding="utf-8")
        sidecar = args.corpus / f"{Path(doc.source_file).stem}.json"
        if sidecar.exists():
            shutil.copy(sidecar, partial / f"{doc.doc_id}.json")
        paragraphs = [p for p in doc.text.split("\n\n") if p.strip()]
        back = {b.strip() for b in clean_text(wrapped).split("\n\n")}
        kept += sum(p.strip() in back for p in paragraphs)
        total += len(paragraphs)
    partial.rename(args.out)
    print(json.dumps({"documents": len(loaded.documents), "width": args.width, "paragraphs_back": f"{kept}/{total}"}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
