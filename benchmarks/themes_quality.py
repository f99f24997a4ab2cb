"""Theme tagging against hand labels: precision and recall per theme and overall.

    python benchmarks/themes_quality.py                       # the seeds' passages (benchmarks/theme_labels.json)
    python benchmarks/themes_quality.py /tmp/rw/setC ...      # also real-world sets' pages (SET/theme_labels.json)
    python benchmarks/themes_quality.py SETS... --sweep       # the thresholds, fitted on the first set only

Real-world labels are page level (`{"labels": [{"file", "themes"}]}`, written by someone who had not seen the
tagger): a page raises a theme when the tagger tags any of its passages with it (which, for a page of more
than two passages, needs two of them or a heading). The seeds' labels are passage level.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import fresh_assistant, normalise
from realworld import set_assistant

from assistant.config import DEFAULT_THEMES
from assistant.ingest import doc_id_for
from assistant.models import Chunk
from assistant.reader import OpenIndex
from assistant.themes import MIN_THEME_SIMILARITY, TERM_MIN_SIMILARITY, Theme, ThemeTagger, load_themes

LABELS = Path(__file__).resolve().parent / "theme_labels.json"


@dataclass
class Document:
    texts: list[str]
    sections: list[str | None]
    vectors: np.ndarray


@dataclass
class Case:
    document: Document
    passage: int | None  # the labelled passage, or None: the whole page is labelled
    gold: set[str]


def read_document(index: OpenIndex, doc_id: str) -> tuple[Document, list[str]]:
    """A document's passages as the build tagged them (texts with their sections, stored vectors)."""
    rows = index._rows("SELECT id, section, text FROM chunks WHERE doc_id = ? ORDER BY id", (doc_id,))
    stored = index.passages.vectors_of([row["id"] for row in rows])
    texts = [Chunk("", 0, row["section"], None, 0, 0, row["text"]).indexed_text() for row in rows]
    document = Document(texts, [row["section"] for row in rows], np.stack([stored[row["id"]] for row in rows]))
    return document, [row["text"] for row in rows]


def seed_cases(index: OpenIndex) -> list[Case]:
    labels = json.loads(LABELS.read_text(encoding="utf-8"))["labels"]
    documents = {doc["doc_id"]: read_document(index, doc["doc_id"]) for doc in index.documents()}
    cases = []
    for label in labels:
        matches = [(document, n) for document, plain in documents.values() for n, text in enumerate(plain)
                   if normalise(label["phrase"]) in normalise(text)]
        if len(matches) != 1:
            raise SystemExit(f"phrase {label['phrase']!r} matches {len(matches)} passages; it must pick one")
        cases.append(Case(matches[0][0], matches[0][1], set(label["themes"])))
    return cases


def page_cases(folder: Path, index: OpenIndex) -> list[Case]:
    labels = json.loads((folder / "theme_labels.json").read_text(encoding="utf-8"))["labels"]
    return [Case(read_document(index, doc_id_for(Path(label["file"])))[0], None, set(label["themes"]))
            for label in labels]


def predict(cases: Sequence[Case], tagger: ThemeTagger) -> list[set[str]]:
    out = []
    for case in cases:
        tags = tagger.tag(case.document.texts, case.document.vectors, case.document.sections)
        out.append(set(tags[case.passage]) if case.passage is not None else {t for found in tags for t in found})
    return out


def counts(cases: Sequence[Case], predicted: Sequence[set[str]], themes: Sequence[Theme]
           ) -> dict[str, tuple[int, int, int]]:
    return {theme.id: (sum(theme.id in p and theme.id in c.gold for p, c in zip(predicted, cases, strict=True)),
                       sum(theme.id in p and theme.id not in c.gold for p, c in zip(predicted, cases, strict=True)),
                       sum(theme.id not in p and theme.id in c.gold for p, c in zip(predicted, cases, strict=True)))
            for theme in themes}


def micro(found: dict[str, tuple[int, int, int]]) -> str:
    tp, fp, fn = (sum(c[i] for c in found.values()) for i in range(3))
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return f"precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", type=Path)
    parser.add_argument("--sweep", action="store_true")
    options = parser.parse_args()
    themes = load_themes(DEFAULT_THEMES)
    with tempfile.TemporaryDirectory() as folder:
        seeds = fresh_assistant(Path(folder) / "index")
        groups = {"seeds (passages)": seed_cases(seeds.index())}
        embedder = seeds.embedder
    for set_folder in options.sets:
        groups[f"{set_folder.name} (pages)"] = page_cases(set_folder, set_assistant(set_folder).index())
    tagger = ThemeTagger(themes, embedder)
    print(f"thresholds: meaning alone {MIN_THEME_SIMILARITY}, with terms {TERM_MIN_SIMILARITY}")
    for name, cases in groups.items():
        predicted = predict(cases, tagger)
        found = counts(cases, predicted, themes)
        print(f"\n== {name}: {len(cases)} labelled, {sum(len(c.gold) for c in cases)} labels; {micro(found)}")
        common = {theme.id: (sum(theme.id in p for p in predicted), sum(theme.id in c.gold for c in cases))
                  for theme in themes}
        print("on more than a third of them (tagged, labelled): " + (", ".join(
            f"{theme_id} ({tagged}, {labelled})" for theme_id, (tagged, labelled) in common.items()
            if tagged > len(cases) / 3) or "none"))
        print(f"{'theme':<26} {'precision':>9} {'recall':>7}  (tp fp fn)")
        for theme_id, (tp, fp, fn) in found.items():
            if tp + fp + fn:
                precision = f"{tp / (tp + fp):.2f}" if tp + fp else "  -"
                recall = f"{tp / (tp + fn):.2f}" if tp + fn else "  -"
                print(f"{theme_id:<26} {precision:>9} {recall:>7}  ({tp} {fp} {fn})")
    if options.sweep:
        print("\nmeaning  terms   " + "   ".join(groups))
        for alone in (0.35, 0.40, 0.45, 0.50):
            for with_terms in (0.10, 0.15, 0.20, 0.25, 0.30):
                swept = ThemeTagger(themes, embedder, min_similarity=alone, term_similarity=with_terms)
                print(f"{alone:>6.2f}  {with_terms:>5.2f}   " + "   ".join(
                    micro(counts(cases, predict(cases, swept), themes)) for cases in groups.values()))


if __name__ == "__main__":
    main()
