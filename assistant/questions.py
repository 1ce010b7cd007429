"""Checks on a question before any work is done for it."""

from __future__ import annotations

import re

NO_WORDS = "The question has no words; type a question about your documents."


def question_words_error(question: str) -> str | None:
    """One sentence when the question holds no word at all (only punctuation, symbols or
    space: "?!...", "🤔", ""), so it is refused at once instead of running the model; None for
    a question with at least one letter or digit in any script."""
    return None if re.search(r"[^\W_]", question) else NO_WORDS
