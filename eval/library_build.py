"""How long a build takes after adding one document to a library of 100, with the real model.

Makes a synthetic library of 100 documents in a temporary folder (the documents of
eval/library/docs, copied round by round, each copy's title line and metadata changed so
that no two copies embed the same text), builds it once in full, then adds one more
document with the library's own `add_files` and builds again, which embeds only that one.

    PYTHONPATH=$PWD python eval/library_build.py [--documents 100]

Prints one JSON line: the seconds of the full build, of the build after the addition, and
how many documents each one embedded. The model's load time is not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from qa.ingest.corpus import load_corpus
from qa.library import add_files
from qa.retrieve.embedder import load_embedder
from qa.service import ensure_index
from qa.settings import PROJECT_ROOT, Settings
from qa.types import Document

SOURCE = PROJECT_ROOT / "eval" / "library" / "docs"


def write_copy(folder: Path, doc: Document, number: int) -> Path:
    """A copy of a document as a text file with its JSON, the title changed in both."""
    title = f"{doc.title}（汇编第{number}号）"
    first_line, _, rest = doc.text.partition("\n")
    text = f"{title}\n{rest}" if first_line.strip() == doc.title.strip() else f"{title}\n\n{doc.text}"
    path = folder / f"copy-{number:03d}.txt"
    path.write_text(text, encoding="utf-8")
    meta = {"title": title, "doc_number": doc.doc_number, "issuers": list(doc.issuers), "date_signed": doc.date_signed}
    path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=100)
    args = parser.parse_args()
    documents = load_corpus(SOURCE).documents
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus, extra = root / "corpus", root / "new"
        corpus.mkdir()
        extra.mkdir()
        for n in range(args.documents):
            write_copy(corpus, documents[n % len(documents)], n + 1)
        settings = Settings.from_env(corpus_dir=corpus, index_dir=root / "index")
        embedder = load_embedder(settings)
        quiet = lambda line: print(line, file=sys.stderr)  # noqa: E731
        started = time.perf_counter()
        full, _ = ensure_index(settings, embedder, force=True, report=quiet)
        full_seconds = time.perf_counter() - started
        new = write_copy(extra, documents[args.documents % len(documents)], args.documents + 1)
        added, errors = add_files(corpus, [new.with_suffix(".json"), new])
        assert not errors, errors
        started = time.perf_counter()
        after, _ = ensure_index(settings, embedder, force=True, report=quiet)
        add_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "model": settings.model,
                "documents_before": full.manifest.documents,
                "chunks_before": full.manifest.chunks,
                "full_build_seconds": round(full_seconds, 2),
                "full_build_embedded_documents": len(full.embedded_now),
                "documents_after": after.manifest.documents,
                "build_after_adding_one_seconds": round(add_seconds, 2),
                "embedded_documents_after_adding_one": len(after.embedded_now),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
