"""How much of a document's metadata the product finds in its text alone.

Users load Word files, PDFs and saved pages without a JSON file beside them, so the title, 文号,
issuing bodies and dates must come from the text. Every document of a corpus that has a JSON
file is read a second time without it, and each field the JSON gives is compared with what the
text gave:

    PYTHONPATH=$PWD python eval/metadata.py [--corpus eval/library/docs] [--show]

Prints one JSON line of counts per field (`--show` also lists the misses). Spaces are ignored
when comparing; issuers count as found when the text gives the same bodies in any order.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from qa.ingest.corpus import load_document
from qa.ingest.errors import UnreadableFile
from qa.ingest.sidecar import Sidecar, read_sidecar
from qa.settings import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "eval" / "library" / "docs"
FIELDS = ("title", "doc_number", "issuers", "date_signed", "date_published")


def _key(value: str | Sequence[str]) -> str | list[str]:
    """A field's value without spaces; issuers in any order."""
    if isinstance(value, str):
        return re.sub(r"\s", "", value)
    return sorted(re.sub(r"\s", "", name) for name in value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SOURCE)
    parser.add_argument("--show", action="store_true", help="list each field the text did not give right")
    args = parser.parse_args(argv)
    counts = {field: [0, 0] for field in FIELDS}  # right, given
    for sidecar_path in sorted(args.corpus.glob("*.json")):
        documents = [p for p in sidecar_path.parent.glob(sidecar_path.stem + ".*") if p.suffix != ".json"]
        if len(documents) != 1:
            continue
        given = read_sidecar(sidecar_path, sidecar_path.name)
        try:
            found = load_document(documents[0], sidecar=Sidecar())
        except UnreadableFile as exc:
            print(exc, file=sys.stderr)
            continue
        for field in FIELDS:
            expected = getattr(given, field)
            if expected is None or expected == "" or expected == []:
                continue  # the JSON file does not give this field
            counts[field][1] += 1
            if _key(expected) == _key(getattr(found, field)):
                counts[field][0] += 1
            elif args.show:
                print(f"{documents[0].name}\t{field}\t{expected!r}\t{getattr(found, field)!r}", file=sys.stderr)
    print(json.dumps({field: f"{right}/{total}" for field, (right, total) in counts.items()}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
