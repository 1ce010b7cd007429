"""Days between two stated dates are counted by the program, from two verified claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.arithmetic import asks_for_days, dates_in, day_difference
from assistant.schema import Claim
from tests.support import evidence_lines, fake_assistant

STORY = (
    "The market in Ariha was struck on November 29th. "
    "Rescue teams worked through the night. "
    "Amnesty published its report on 23 December 2015."
)


def test_dates_in_every_spelling() -> None:
    assert dates_in("Sept. 30, 2015; November 29th; 23rd of December 2015") == [
        (2015, 9, 30),
        (None, 11, 29),
        (2015, 12, 23),
    ]


def test_day_difference_cites_both_dates_and_needs_two() -> None:
    a = Claim(text="The strike was on November 29.", citations=[1])
    b = Claim(text="The report came out on 23 December 2015.", citations=[2])
    days = day_difference([a, b])
    assert days is not None and "24 days" in days.text and days.citations == [1, 2]
    assert day_difference([a]) is None
    assert day_difference([a, a]) is None
    assert asks_for_days("How many days passed between the strike and the report?")
    assert not asks_for_days("How many people died?")


def test_the_answer_counts_the_days_from_two_verified_sentences(tmp_path: Path) -> None:
    def two_dates(prompt: str) -> dict[str, Any]:
        lines = evidence_lines(prompt)
        struck = next(n for n, t in lines.items() if "struck" in t)
        report = next(n for n, t in lines.items() if "report" in t)
        return {
            "claims": [
                {
                    "statement": "The Ariha market was struck on November 29th.",
                    "evidence": [struck],
                },
                {"statement": "Amnesty published its report on 23 December.", "evidence": [report]},
                {"statement": "That is 25 days.", "evidence": [struck, report]},  # miscounted
            ]
        }

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_text(STORY)
    answer = fake_assistant(tmp_path, two_dates, corpus=corpus).ask(
        "How many days passed between the Ariha strike and Amnesty's report?"
    )
    assert "24 days" in answer.text and "25 days" not in answer.text
    assert len(answer.citations) == 2
