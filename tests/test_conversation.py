"""Reading a turn in the light of the conversation: follow-ups lean on the turns before, new topics do not."""

from __future__ import annotations

import pytest

from assistant.answer import Turn
from assistant.conversation import continues, read_turn
from assistant.service import Assistant


@pytest.mark.parametrize(("previous", "question"), [
    ("what's the timescale for an ICPC in Luton?", "and what about in Sefton?"),
    ("what does ICON stand for?", "what does the O stand for?"),
    ("which child deaths does CDOP review?", "how quickly does the panel need to be told about it?"),
    ("how long does an EPO last?", "can it be extended though?"),
    ("what does KCSIE say about the DSL?", "can a deputy do the day to day bits instead?"),
    ("when should the pre-birth referral go in?", "is there any meeting before the referral?"),
    ("who can apply for an EPO?", "so why did nobody apply?"),
    ("rushcombe briefing - what was going on with the tutor?", "who should a worry about someone like that go to?"),
    ("walker thompson family - what did workers miss?", "what should they've asked to look at?"),
])
def test_a_turn_that_leans_on_the_one_before_continues_it(previous: str, question: str) -> None:
    assert continues(question, previous)


@pytest.mark.parametrize(("previous", "question"), [
    ("what should I do if a family won't engage with early help", "What is adultification?"),
    ("how often does the child death panel meet?", "what is FGM"),
    ("how long does an EPO last?", "unrelated - who wrote the Child Q review?"),
    ("how long does an EPO last?", "different question, what does it mean when a baby is not brought?"),
    ("when does infant crying peak?", "what should I do if a child says that they are being hit at home"),
    ("who's the LADO for?", "pre-birth assessment for a pregnant care leaver - when should it happen?"),
    ("kid with an EHCP, school hinting at home education", "professional curiosity - what does it actually mean?"),
    ("dad falls asleep on the sofa with the baby", "what does WNB mean?"),
])
def test_a_new_topic_is_read_on_its_own(previous: str, question: str) -> None:
    assert not continues(question, previous)


def test_a_follow_up_carries_the_turns_back_to_the_last_that_stood_alone() -> None:
    history = ["what should I do if a family won't engage", "What is adultification?", "who coined it?"]
    reading = read_turn("and how does it affect black girls?", history)
    assert reading.follows == ("What is adultification?", "who coined it?")
    assert reading.text == "What is adultification? who coined it? and how does it affect black girls?"
    assert read_turn("What is adultification?", history[:1]).follows == ()
    assert read_turn("anything", []).text == "anything"


def test_a_follow_up_naming_its_own_area_drops_the_earlier_one() -> None:
    def names_in(text: str) -> frozenset[str]:
        return frozenset(name for name in ("Luton", "Sefton") if name in text)

    def strip(text: str) -> str:
        return text.replace("Luton", "").replace("Sefton", "")

    reading = read_turn("and what about in Sefton?", ["what's the ICPC timescale in Luton?"], names_in=names_in,
                        strip_names=strip)
    assert reading.text == "what's the ICPC timescale in ? and what about in Sefton?"
    assert reading.follows == ("what's the ICPC timescale in Luton?",)


def test_the_answer_says_which_questions_a_follow_up_was_read_with(built: Assistant) -> None:
    first = "how did Child N die?"
    answer = built.ask("could his death have been prevented?", history=[Turn(first, "...")])
    assert answer.follows == [first]
    alone = built.ask("What is the Graded Care Profile?", history=[Turn(first, "...")])
    assert alone.follows == []
    assert built.ask("could his death have been prevented?").follows == []
