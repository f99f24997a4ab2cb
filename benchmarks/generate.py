"""Generate a large corpus: the seed reviews repeated with variations (places, years, paragraph order)."""

from __future__ import annotations

import argparse
import random
import re
import shutil
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "corpus"
PLACES = ["Northshire", "Eastborough", "Westford", "Southmere", "Kingsbridge", "Ashdale", "Brookfield",
          "Castleton", "Daleham", "Elmstead", "Fernley", "Glenwood", "Harrowgate", "Ivybridge", "Juniper Vale"]
NAMES = ["Child A", "Child B", "Child C", "Child D", "Child E", "Child G", "Child H", "Child K", "Child M"]


def vary(text: str, rng: random.Random) -> str:
    """A plausible sibling review: other places, other years, paragraphs shuffled within each block."""
    place = rng.choice(PLACES)
    text = re.sub(r"Warwickshire|Lancashire|Liverpool|Luton|Telford (?:and|&) Wrekin", place, text)
    text = re.sub(r"Child [NF]\b|'John'", rng.choice(NAMES), text)
    shift = rng.randint(-4, 4)
    text = re.sub(r"\b(20[012]\d)\b", lambda m: str(int(m.group(1)) + shift), text)
    paragraphs = text.split("\n\n")
    body = paragraphs[2:]
    for start in range(0, len(body) - 3, 4):
        window = body[start:start + 3]
        if not any(p.lstrip().startswith(("#", "**", "Theme", "Finding", "Learning")) for p in window):
            rng.shuffle(window)
            body[start:start + 3] = window
    return "\n\n".join(paragraphs[:2] + body)


def generate(target: Path, copies: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    sources = sorted(SEEDS.glob("*.txt"))
    for copy in range(copies):
        for source in sources:
            path = target / f"{source.stem}-v{copy:04d}.txt"
            path.write_text(vary(source.read_text(encoding="utf-8"), rng), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", type=Path)
    parser.add_argument("--copies", type=int, default=50)
    options = parser.parse_args()
    print(f"wrote {len(generate(options.target, options.copies))} files to {options.target}")
