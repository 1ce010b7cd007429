"""Question analysis without a model: a follow-up read with the turn before it, a compound
question cut into its parts."""

from __future__ import annotations

import pytest

from assistant.questions import (
    date_parts,
    faithful,
    holds_phrase,
    leans_on_context,
    parts,
    quoted_phrases,
    referent,
    standalone,
)


@pytest.mark.parametrize(
    ("earlier", "answer", "expected"),
    [
        ("Who is Jane Okafor?", "Jane Okafor is the mayor of Lagos. [1]", "Jane Okafor"),
        ("What did Tom Berg say about the dam?", "Tom Berg said it leaks. [2]", "Tom Berg"),
        # A question about who did something: its answer names the referent.
        ("Who signed the treaty?", "Maria Lopez signed the treaty. [1]", "Maria Lopez"),
        (
            "Which agency inspected the bridge?",
            "The Federal Highway Agency inspected the bridge. [1]",
            "Federal Highway Agency",
        ),
        ("How old is the bridge?", "It is 80 years old. [1]", None),
    ],
)
def test_referent_is_what_the_earlier_turn_was_about(
    earlier: str, answer: str, expected: str | None
) -> None:
    assert referent(earlier, answer) == expected


def test_pronouns_become_the_referent() -> None:
    earlier, answer = "Who is Jane Okafor?", "Jane Okafor is the mayor of Lagos. [1]"
    assert standalone("What did she promise?", earlier, answer) == "What did Jane Okafor promise?"
    assert standalone("What is her salary?", earlier, answer) == "What is Jane Okafor’s salary?"
    assert standalone("Who elected him?", "Who is Tom Berg?", "Tom Berg is a judge.") == (
        "Who elected Tom Berg?"
    )


def test_that_noun_becomes_the_earlier_phrase() -> None:
    earlier = "How many people were hurt in the Harbour Street fire?"
    assert standalone("When did that fire start?", earlier, "Twelve people. [1]") == (
        "When did the Harbour Street fire start?"
    )


def test_a_question_that_does_not_refer_back_is_unchanged() -> None:
    earlier, answer = "What did the Lagos council vote on?", "The council voted on the budget."
    for question in (
        "How long is the Niger river?",
        "What did they decide?",
        "Is it true that the mayor resigned?",
        "Was it reported that the mayor won?",
    ):
        assert standalone(question, earlier, answer) == question


def test_quoted_words_are_the_documents_not_pronouns_to_resolve() -> None:
    earlier, answer = "Who is Jane Okafor?", "Jane Okafor is the mayor of Lagos. [1]"
    quoting = "Who said “It was a quiet night there; nothing moved”?"
    assert standalone(quoting, earlier, answer) == quoting
    assert not leans_on_context(quoting)  # a quotation is enough to search with
    assert standalone('What did she mean by "it was over"?', earlier, answer) == (
        'What did Jane Okafor mean by "it was over"?'
    )


def test_they_becomes_a_group_name_and_there_a_place() -> None:
    earlier, answer = "Which agency inspected the bridge?", "The Federal Highway Agency did. [1]"
    assert standalone("What did they find?", earlier, answer) == (
        "What did Federal Highway Agency find?"
    )
    assert standalone("What was their verdict?", earlier, answer) == (
        "What was Federal Highway Agency’s verdict?"
    )
    # after "they", a "their" is as often something else's: it stays
    assert standalone("When did they publish their figures?", earlier, answer) == (
        "When did Federal Highway Agency publish their figures?"
    )
    # with "it" for the agency, "they" is something else
    assert standalone("Did it say they were safe?", earlier, answer) == (
        "Did Federal Highway Agency say they were safe?"
    )
    where, there = "Where did the fire start?", "It started in Harbour Street, Lagos. [1]"
    assert standalone("Who owns the warehouse there?", where, there) == (
        "Who owns the warehouse in Harbour Street?"
    )
    centre = "It started in the centre of Lagos, near the port. [1]"
    assert standalone("Who owns the warehouse there?", where, centre) == (
        "Who owns the warehouse in Lagos?"
    )
    for existential in (
        "Were there any injuries?",
        "How many people were there?",
        "There were fires, but who saw them?",
    ):
        assert standalone(existential, where, there) == existential


def test_who_else_sets_apart_the_earlier_first_name() -> None:
    earlier = "Did Greenpeace say that Shell spilled oil?"
    assert standalone("Who else accused it?", earlier, "Yes. [1]") == (
        "Who other than Greenpeace accused Shell?"
    )
    # the model is asked without the name: given it, it answered with it
    assert standalone("Who else accused it?", earlier, "Yes. [1]", set_apart=False) == (
        "Who else accused Shell?"
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Did Greenpeace say that Shell spilled oil, and who else accused it?",
            # "it" is what was reported: the second part carries the report
            [
                "Did Greenpeace say that Shell spilled oil?",
                "Who else accused it (that Shell spilled oil)?",
            ],
        ),
        (
            "Did Greenpeace say that Shell spilled oil, and who else accused it of fraud?",
            ["Did Greenpeace say that Shell spilled oil?", "Who else accused it of fraud?"],
        ),
        (
            "When did the dam open; how much did it cost?",
            ["When did the dam open?", "How much did it cost?"],
        ),
        # one question: a shared verb, a premise before the question, a part too short to stand
        ("How much disk and how much RAM do I need?", None),
        ("The mayor resigned, and what did the council say?", None),
        ("Who said that, and why?", None),
    ],
)
def test_a_compound_question_is_cut_into_questions(
    question: str, expected: list[str] | None
) -> None:
    assert parts(question) == (expected or [question])


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("How many of them were doctors?", True),  # a pronoun the rules left
        ("And according to Amnesty?", True),  # elliptical
        ("What about Human Rights Watch?", True),
        ("Where is the organisation based?", True),  # names nothing
        ("Why?", True),
        ("Against whom?", True),  # an opening preposition is not a name
        ("Since when?", True),
        ("What did Philip Luther say about the attacks?", False),
        ("Which armed group controlled the area in Ariha?", False),
    ],
)
def test_a_follow_up_that_still_leans_on_the_earlier_turn(question: str, leans: bool) -> None:
    assert leans_on_context(question) is leans


@pytest.mark.parametrize(
    ("question", "written", "taken"),
    [
        (
            "How many of them were doctors?",
            "How many of the 16 witnesses Amnesty interviewed were doctors?",
            True,
        ),
        ("Why?", "Why did Amnesty say the strikes may amount to war crimes?", True),
        ("And according to Amnesty?", "How many civilians were killed according to Amnesty?", True),
        ("What is his job?", "Who is Kristyan Benedict?", False),  # another question word
        ("Which program does he direct?", "Who does Philip Luther direct?", False),  # "program"
        ("Where is it?", "It is in Idlib province.", False),  # an answer, not a question
    ],
)
def test_the_models_written_out_follow_up_must_ask_the_same(
    question: str, written: str, taken: bool
) -> None:
    assert faithful(question, written) is taken


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "How many days passed between the flood and the report?",
            ["When was the flood?", "When was the report?"],
        ),
        (
            "How many weeks after the report was published did the mayor resign?",
            ["When the report was published?", "When did the mayor resign?"],
        ),
        (
            "How many days after the opening of the dam was it closed?",
            ["When was the dam opened?", "When was it closed?"],  # asked with the verb
        ),
        (
            "How many days passed between the start of the strike and the publication of the "
            "court's ruling?",
            ["When did the strike start?", "When was the court's ruling published?"],
        ),
        # a date the question gives is not asked for; a duration is not two dates
        ("How many days passed between 3 May and the flood?", []),
        ("How many days did the siege last?", []),
    ],
)
def test_a_question_for_the_days_between_two_events_asks_for_their_dates(
    question: str, expected: list[str]
) -> None:
    assert date_parts(question) == expected
    assert parts(question) == (expected or [question])


def test_quoted_phrases_are_found_word_for_word() -> None:
    question = 'Who told a briefing "We examined this report"?'
    (phrase,) = quoted_phrases(question)
    assert phrase == ["we", "examined", "this", "report"]
    assert holds_phrase("“We examined this report”, defence ministry spokesman said.", phrase)
    assert not holds_phrase("A Kremlin statement said it will examine the report.", phrase)
    assert quoted_phrases("Who said it was “in strict conformity” with the law?") == [
        ["in", "strict", "conformity"]
    ]
    assert quoted_phrases('Which report called it "fake"?') == []  # one word points nowhere
    assert quoted_phrases("How many civilians were killed?") == []
