"""Reading a turn of a conversation: does it lean on the turns before it, and on which?

A follow-up ("and in Sefton?", "who chairs it?", "what does the O stand for?", "is there a meeting before the
referral?") is read with the turns it continues, back to the last one that stood on its own; a new topic
("What is adultification?", "private fostering - what counts?", "unrelated - who wrote the Child Q review?")
is read alone, however short it is.

A turn is new when it says so ("unrelated", "different question"), asks in a few words what something is,
or names its topic first (in a few words, or pointing nowhere back). Otherwise it continues when it says so
("and", "what about", "so why"), follows a turn that set the scene rather than asked, shares a topic word
with the turn before, has at most one topic word of its own ("what sort of methodology?"; words such as
"stand", "apply", "how long" name none), or points back ("it", "there", "instead", "that" as a pronoun)
with fewer than four topic words of its own ("they", "her" with fewer than three).
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
# Words that point back to something said before ("can it be extended?", "who holds it until then?") ...
POINTS_BACK = frozenset("it its this those these there then one ones such same instead too either though".split())
# ... people, who are often named in the question itself ("if a child says they are hit") ...
PEOPLE_BACK = frozenset("they them their he she him her his hers".split())
# ... and "that" as a pronoun: at the end, after "is", "was", "why" and the like, or before a verb ("when that
# comes back"), not before the subject of a clause ("says that they", "the form that I need").
THAT_POINTS = re.compile(r"(?:^|[^\w'])(?:(?:is|was|does|did|can|will|would|should|has|how|why|what|where|when|"
                         r"who)\s+that\b|that\s*(?:[?.!,;]|$)|that\s+(?!(?:they|he|she|the|a|an|his|her|their|"
                         r"i|we|you|my|our|your|its|it|there|this|these|those|mum|dad|parents?|child|children|"
                         r"baby|someone|no|all|some|any|every)\b)[a-z])", re.IGNORECASE)
# A question asking what something is names a new topic, however short ("whats adultification?").
DEFINITION = re.compile(r"^\s*(?:(?:what\s+is|what's|whats|what\s+are|define|definition\s+of|meaning\s+of|"
                        r"tell\s+me\s+about|explain)\s+(?:\S+\s+){0,3}\S+|what\s+does\s+\S+(?:\s+\S+)?\s+"
                        r"(?:mean|stand\s+for))\s*[?.!]*\s*$", re.IGNORECASE)
# A turn that opens with one of these asks a question; one that does not, and has no "?", sets a scene.
ASKS = re.compile(r"^\s*(?:what|how|who|whom|whose|when|where|why|which|is|are|was|were|can|could|should|shall|"
                  r"do|does|did|will|would|may|might|must|has|have|had|tell|explain)\b", re.IGNORECASE)
# A question with this many topic words of its own stands alone, whatever it points back with (fewer for
# pronouns for people).
OWN_TOPIC_WORDS = 4
OWN_TOPIC_WORDS_PEOPLE = 3
# "private fostering - what counts?", "Prevent: who refers?": a topic named first, then the question.
TOPIC_FIRST = re.compile(r"^\s*([^?\-–:]{3,60}?)\s+[-–:]\s+(\S.*)$")
# Words that ask about a topic without naming one.
NO_TOPIC = frozenset("""stand stands mean means meaning happen happens happened apply applies applied work works
count counts cover covers covered include includes included need needs needed long quickly quick soon often
time times much many say says said told tell ok okay still actually really exactly bit bits thing things else
another different sure now supposed allowed example examples kind sort type types way ways someone anyone people
person do does done get make role help first next last other actual advice process rules rule like go goes
right wrong usual usually normally normal expected ve ll re didn doesn isn wasn aren weren couldn shouldn
wouldn hasn haven hadn""".split())


@dataclass(frozen=True)
class TurnReading:
    """What a turn is searched as, and which earlier questions it was read with (none: read alone)."""

    text: str
    follows: tuple[str, ...] = ()


def topic_words(question: str) -> list[str]:
    """The content words of a question that name what it is about."""
    return [word for word in keyword_terms(question) if word not in NO_TOPIC]


def _words(question: str) -> set[str]:
    return {part for word in re.findall(r"[a-z']+", question.lower()) for part in word.split("'")}


def points_back(question: str) -> bool:
    """Whether the question uses a word that points back ("it", "there", "instead", "that" as a pronoun)."""
    if _words(question) & POINTS_BACK:
        return True
    return THAT_POINTS.search(question) is not None


def continues(question: str, previous: str) -> bool:
    """Whether `question` leans on the turn before it (`previous`)."""
    if STARTS_AFRESH.search(question):
        return False
    if CONTINUES.match(question):
        return True
    topics = topic_words(question)
    if not topics:
        return True
    named_first = TOPIC_FIRST.match(question)
    if named_first and topic_words(named_first.group(1)) and (
            len(named_first.group(1).split()) <= 4 or not points_back(named_first.group(2))):
        return False  # "professional curiosity - what does it mean?": "it" is the topic just named
    if DEFINITION.match(question) and not points_back(question) and not _words(question) & PEOPLE_BACK:
        return False
    if "?" not in previous and not ASKS.match(previous):
        return True  # the turn before set the scene ("Walker-Thompson 7 point briefing")
    if {stem(word) for word in topics} & {stem(word) for word in topic_words(previous)}:
        return True
    if len(topics) == 1:
        return True  # too little of its own: "what sort of methodology?", "were the agencies told?"
    return (len(topics) < OWN_TOPIC_WORDS and points_back(question)) or (
        len(topics) < OWN_TOPIC_WORDS_PEOPLE and bool(_words(question) & PEOPLE_BACK))


def read_turn(question: str, history: Sequence[str], *,
              names_in: Callable[[str], frozenset[str]] = lambda text: frozenset(),
              strip_names: Callable[[str], str] = lambda text: text) -> TurnReading:
    """The turn with the earlier turns it leans on in front (back to the last one that stood on its own).

    When the turn names a review, area or programme of its own (`names_in`), the names of the earlier turns
    are taken out of them (`strip_names`), so "and in Sefton?" after a question about Luton asks about Sefton.
    """
    if not history or not continues(question, history[-1]):
        return TurnReading(question)
    chain = [history[-1]]
    for earlier, before in zip(reversed(history[:-1]), reversed(history[1:]), strict=True):
        if not continues(before, earlier):
            break
        chain.insert(0, earlier)
    carried = [strip_names(turn) if names_in(question) else turn for turn in chain]
    return TurnReading(" ".join([*carried, question]), tuple(chain))
