"""Theme tagging against hand labels (benchmarks/theme_labels.json): precision and recall per theme.

    python benchmarks/themes_quality.py [--sweep]

--sweep also prints micro precision/recall/F1 for a range of similarity thresholds, the calibration
behind MIN_THEME_SIMILARITY in assistant/themes.py.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from common import fresh_assistant, normalise

from assistant.config import DEFAULT_THEMES
from assistant.models import Chunk
from assistant.themes import MIN_THEME_SIMILARITY, ThemeTagger, load_themes

LABELS = Path(__file__).resolve().parent / "theme_labels.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true")
    options = parser.parse_args()
    labels = json.loads(LABELS.read_text(encoding="utf-8"))["labels"]
    with tempfile.TemporaryDirectory() as folder:
        assistant = fresh_assistant(Path(folder) / "index")
        index = assistant.index()
        rows = [(row["id"], row["section"], row["text"]) for doc in index.documents()
                for row in index._rows("SELECT id, section, text FROM chunks WHERE doc_id = ?", (doc["doc_id"],))]
        picked = []
        for label in labels:
            matches = [row for row in rows if normalise(label["phrase"]) in normalise(row[2])]
            if len(matches) != 1:
                raise SystemExit(f"phrase {label['phrase']!r} matches {len(matches)} passages; it must pick one")
            picked.append((matches[0], set(label["themes"])))
        # the very vectors the build stored for these passages, as the tagger saw them
        stored = index.passages.vectors_of([row[0] for row, _ in picked])
        vectors = np.stack([stored[row[0]] for row, _ in picked])
        texts = [Chunk("", 0, row[1], None, 0, 0, row[2]).indexed_text() for row, _ in picked]
        embedder = assistant.embedder
    themes = load_themes(DEFAULT_THEMES)

    def evaluate(threshold: float) -> tuple[dict[str, tuple[int, int, int]], list[set[str]]]:
        tagger = ThemeTagger(themes, embedder, min_similarity=threshold)
        predicted = [set(tags) for tags in tagger.tag(texts, vectors)]
        counts = {}
        for theme in themes:
            tp = sum(theme.id in p and theme.id in gold for p, (_, gold) in zip(predicted, picked, strict=True))
            fp = sum(theme.id in p and theme.id not in gold for p, (_, gold) in zip(predicted, picked, strict=True))
            fn = sum(theme.id not in p and theme.id in gold for p, (_, gold) in zip(predicted, picked, strict=True))
            counts[theme.id] = (tp, fp, fn)
        return counts, predicted

    def micro(counts: dict[str, tuple[int, int, int]]) -> tuple[float, float, float]:
        tp = sum(c[0] for c in counts.values())
        fp = sum(c[1] for c in counts.values())
        fn = sum(c[2] for c in counts.values())
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)

    counts, _ = evaluate(MIN_THEME_SIMILARITY)
    print(f"{len(picked)} hand-labelled passages, {sum(len(g) for _, g in picked)} labels; "
          f"similarity threshold {MIN_THEME_SIMILARITY}")
    print(f"{'theme':<24} {'precision':>9} {'recall':>7}  (tp fp fn)")
    for theme_id, (tp, fp, fn) in counts.items():
        precision = f"{tp / (tp + fp):.2f}" if tp + fp else "  -"
        recall = f"{tp / (tp + fn):.2f}" if tp + fn else "  -"
        print(f"{theme_id:<24} {precision:>9} {recall:>7}  ({tp} {fp} {fn})")
    precision, recall, f1 = micro(counts)
    print(f"micro: precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
    if options.sweep:
        print("\nthreshold  precision  recall  F1   (terms alone at threshold 1.01)")
        for threshold in (0.30, 0.35, 0.40, 0.45, 0.50, 1.01):
            p, r, f = micro(evaluate(threshold)[0])
            print(f"{threshold:>9.2f}  {p:>9.3f}  {r:>6.3f}  {f:.3f}")


if __name__ == "__main__":
    main()
