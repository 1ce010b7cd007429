"""Hostile input that is not a question: punctuation only, and damaged PDFs whose parser talks
to stderr. Each is refused or skipped with one sentence, and nothing else is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NO_WORDS = "The question has no words; type a question about your documents."


@pytest.mark.parametrize("question", ["?!...", "?", "  !!  ", "…", "¿¡?", "🤔", "-- / --", ""])
def test_a_question_without_words_is_refused_at_once(question: str) -> None:
    from assistant.questions import question_words_error

    assert question_words_error(question) == NO_WORDS


@pytest.mark.parametrize(
    "question", ["Who is Philip Luther?", "49?", "Idlib", "Что такое Идлиб?", "伊德利卜?", "x"]
)
def test_a_question_with_words_passes(question: str) -> None:
    from assistant.questions import question_words_error

    assert question_words_error(question) is None


def test_a_damaged_pdf_is_skipped_in_one_line_and_pypdf_stays_quiet(tmp_path: Path) -> None:
    """A real `assistant ingest` process: Python prints an unhandled library warning to stderr,
    which an in-process test (pytest captures logging) would not see."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ngarbage")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_INDEX_DIR=str(tmp_path / "index"), COLUMNS="200")
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(corpus)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    skipped = [line for line in done.stdout.splitlines() if "broken.pdf" in line]
    assert len(skipped) == 1 and "broken.pdf: cannot parse" in skipped[0]
