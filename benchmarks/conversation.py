"""Conversations: do follow-ups gain from the turns before, and do new topics keep clear of them?

    python benchmarks/conversation.py                      # benchmarks/conversations.json (seeds + fictional)
    python benchmarks/conversation.py /tmp/rw/setA ...     # real-world sets' conversation.json

For each follow-up (a last turn that only makes sense after the earlier ones): hit@3 of its gold phrase when
asked with the history, against the last turn asked alone. For each topic shift (a new, self-contained
question right after an unrelated one): hit@3 asked after the other question against asked alone, and how
often its first citation stays the one it gets alone. The plain baseline, which glues every earlier turn in
front, is printed beside. Own conversations are split into tune and held-out; real-world sets are reported
whole (tune on one set, report the others).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collection import collection_assistant
from realworld import set_assistant

from assistant.answer import Turn
from assistant.evaluation import Ranked, Ranker, assistant_ranker, baseline_for, baseline_ranker, rank_of
from assistant.service import Assistant

OWN = Path(__file__).resolve().parent / "conversations.json"


@dataclass(frozen=True)
class Conversation:
    turns: tuple[str, ...]
    gold: tuple[str, ...] | None  # phrases one of which answers the last turn (None: not known)
    kind: str  # "followup" or "shift"
    split: str = "all"


def own_conversations() -> list[Conversation]:
    data = json.loads(OWN.read_text(encoding="utf-8"))
    return [Conversation(tuple(item["turns"]), tuple(item["gold"]), kind, item["split"])
            for key, kind in (("followups", "followup"), ("shifts", "shift")) for item in data[key]]


def realworld_conversations(folder: Path) -> list[Conversation]:
    """A real-world set's conversation.json: followups {first, then, gold}; shifts [first, second], with
    shift_gold [{gold}] in the same order when the set has it."""
    data = json.loads((folder / "conversation.json").read_text(encoding="utf-8"))
    out = [Conversation((item["first"], item["then"]), tuple(item["gold"]), "followup")
           for item in data.get("followups", [])]
    golds = data.get("shift_gold", [])
    for n, (first, second) in enumerate(data.get("shifts", [])):
        gold = tuple(golds[n]["gold"]) if n < len(golds) else None
        out.append(Conversation((first, second), gold, "shift"))
    return out


def ask(ranker: Ranker, turns: Sequence[str]) -> Ranked:
    return ranker(turns[-1], [Turn(turn) for turn in turns[:-1]])


def hit3(ranked: Ranked, gold: tuple[str, ...] | None) -> bool:
    rank = rank_of(gold, ranked.passages) if gold else None
    return rank is not None and rank <= 3


def figures(conversations: Sequence[Conversation], ranker: Ranker) -> str:
    followups = [c for c in conversations if c.kind == "followup"]
    shifts = [c for c in conversations if c.kind == "shift"]
    with_history = sum(hit3(ask(ranker, c.turns), c.gold) for c in followups)
    alone = sum(hit3(ask(ranker, c.turns[-1:]), c.gold) for c in followups)
    after = kept = alone_shift = scored = 0
    for c in shifts:
        in_turn, on_its_own = ask(ranker, c.turns), ask(ranker, c.turns[-1:])
        kept += in_turn.top == on_its_own.top
        if c.gold:
            scored += 1
            after += hit3(in_turn, c.gold)
            alone_shift += hit3(on_its_own, c.gold)
    n, m = max(len(followups), 1), max(scored, 1)
    return (f"follow-ups hit@3 {with_history / n:.2f} with history, {alone / n:.2f} alone ({len(followups)})  |  "
            f"new topics hit@3 {after / m:.2f} after another question, {alone_shift / m:.2f} alone ({scored}); "
            f"first citation kept {kept}/{len(shifts)}")


def report(name: str, assistant: Assistant, conversations: list[Conversation]) -> None:
    project, plain = assistant_ranker(assistant), baseline_ranker(baseline_for(assistant))
    for split in sorted({c.split for c in conversations}):
        part = [c for c in conversations if c.split == split]
        label = name if split == "all" else f"{name} {split}"
        print(f"{label:18s} assistant  {figures(part, project)}", flush=True)
        print(f"{'':18s} baseline   {figures(part, plain)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", type=Path)
    options = parser.parse_args()
    if not options.sets:
        report("own", collection_assistant(), own_conversations())
    for folder in options.sets:
        report(folder.name, set_assistant(folder), realworld_conversations(folder))


if __name__ == "__main__":
    main()
