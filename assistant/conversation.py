"""Reading a turn of a conversation: does it lean on the turns before it, and on which?

A follow-up ("and in Sefton?", "who chairs it?", "what does the O stand for?", "is there a meeting before the
referral?") is read with the turns it continues, back to the last one that stood on its own; a new topic
("What is adultification?", "different question - who wrote the Child Q review?") is read alone, however
short it is. A turn continues when it says so ("and", "what about", "so why"), shares a topic word with the
turn before, has no topic of its own (only words such as "stand", "apply", "how long"), points back ("it",
"there", "instead"), or may point back ("that", "they") without being a question of its own (three topic
words, one of them specific: one the collection holds in few passages). A turn with a specific word of its
own and none of those is new.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .terms import keyword_terms
from .text import stem

# A turn opening with one of these continues the conversation.
CONTINUES = re.compile(r"^\s*(?:and|but|so|or|plus|what about|how about|what if|what happens if|same for|"
                       r"what else|anything else|then|even if|even though|ok so|okay so|if so|if not)\b",
                       re.IGNORECASE)
# ... and one opening with (or holding) one of these says it starts afresh.
STARTS_AFRESH = re.compile(r"\b(?:unrelated|different (?:topic|question|thing|subject|issue|area)|"
                           r"separate (?:question|thing|topic|issue)|new (?:question|topic)|"
                           r"switching (?:topic|subject)s?|change of (?:topic|subject)|on another note|"
                           r"another question|by the way|btw|something else|moving on)\b", re.IGNORECASE)
# Words that point back to something said before: always ...
POINTS_BACK = frozenset("""it its it's this those these there then one ones such same instead too either though
""".split())
# ... or, in a question of its own, to something within it ("if a child says that they are hurt").
MAY_POINT_BACK = frozenset("that they them their he she him her his hers".split())
# Words that ask about a topic without naming one.
NO_TOPIC = frozenset("""stand stands mean means meaning happen happens happened apply applies applied work works
count counts cover covers covered include includes included need needs needed long quickly quick soon often
time times much many say says said told tell ok okay still actually really exactly bit bits thing things else
another different sure now supposed allowed example examples kind sort type types way ways someone anyone people
person do does done get make role help first next last other actual advice process rules rule happen
right wrong usual usually normally normal""".split())


@dataclass(frozen=True)
class TurnReading:
    """What a turn is searched as, and which earlier questions it was read with (none: read alone)."""

    text: str
    follows: tuple[str, ...] = ()


def topic_words(question: str) -> list[str]:
    """The content words of a question that name what it is about."""
    return [word for word in keyword_terms(question) if word not in NO_TOPIC]


def continues(question: str, previous: str, *, is_specific: Callable[[str], bool]) -> bool:
    """Whether `question` leans on the turn before it (`previous`)."""
    if STARTS_AFRESH.search(question):
        return False
    if CONTINUES.match(question):
        return True
    topics = topic_words(question)
    if not topics:
        return True
    if {stem(word) for word in topics} & {stem(word) for word in topic_words(previous)}:
        return True
    specific = any(is_specific(word) for word in topics)
    words = set(re.findall(r"[a-z']+", question.lower()))
    if words & POINTS_BACK:
        return True
    if words & MAY_POINT_BACK:
        return not (specific and len(topics) >= 3)
    return not specific and len(topics) <= 1


def read_turn(question: str, history: Sequence[str], *, is_specific: Callable[[str], bool],
              names_in: Callable[[str], frozenset[str]] = lambda text: frozenset(),
              strip_names: Callable[[str], str] = lambda text: text) -> TurnReading:
    """The turn with the earlier turns it leans on in front (back to the last one that stood on its own).

    When the turn names a review, area or programme of its own (`names_in`), the names of the earlier turns
    are taken out of them (`strip_names`), so "and in Sefton?" after a question about Luton asks about Sefton.
    """
    if not history or not continues(question, history[-1], is_specific=is_specific):
        return TurnReading(question)
    chain = [history[-1]]
    for earlier, before in zip(reversed(history[:-1]), reversed(history[1:]), strict=True):
        if not continues(before, earlier, is_specific=is_specific):
            break
        chain.insert(0, earlier)
    carried = [strip_names(turn) if names_in(question) else turn for turn in chain]
    return TurnReading(" ".join([*carried, question]), tuple(chain))
