"""Hostile: a document swapped for a symlink (or a FIFO) after ingestion is never read.

Ingestion refuses links that leave the corpus folder; every later read (the source viewer,
verification, the evals) goes through `loading.read_document`, which checks again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import AssistantError
from assistant.loading import read_document
from assistant.ui import source_html
from tests.support import FakeEncoder, seeded_assistant

DOC = "003_52a8f228d6ea1ced.txt"


@pytest.fixture
def indexed(tmp_path: Path) -> Assistant:
    return seeded_assistant(tmp_path, encoder=FakeEncoder())


def test_viewer_refuses_an_indexed_file_swapped_for_a_link_outside(indexed: Assistant) -> None:
    corpus = indexed.settings.corpus_dir
    assert "<mark" in source_html(indexed, DOC, 2092, 2262, "[1]")  # read once: cached
    (corpus / DOC).unlink()
    (corpus / DOC).symlink_to("/etc/passwd")

    out = source_html(indexed, DOC, 0, 50, "[1]")
    assert "root:" not in out and "<mark" not in out
    assert f"&#x27;{DOC}&#x27; now points outside the document folder; it is not shown." in out
    with pytest.raises(AssistantError, match="now points outside the document folder"):
        indexed.document_text(DOC)
    with pytest.raises(AssistantError, match="now points outside the document folder"):
        read_document(corpus, DOC)


def test_a_link_to_a_folder_outside_is_refused_too(tmp_path: Path, indexed: Assistant) -> None:
    corpus = indexed.settings.corpus_dir
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / DOC).write_text("A secret kept outside the corpus.")
    (corpus / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(AssistantError, match="now points outside the document folder"):
        read_document(corpus, f"sub/{DOC}")
    with pytest.raises(AssistantError, match="now points outside the document folder"):
        read_document(corpus, f"../outside/{DOC}")


def test_a_fifo_swapped_in_is_refused_without_blocking(indexed: Assistant) -> None:
    corpus = indexed.settings.corpus_dir
    (corpus / DOC).unlink()
    os.mkfifo(corpus / DOC)  # opening it for reading blocks until a writer comes
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(source_html(indexed, DOC, 0, 10, "")))
    reader.start()
    reader.join(10)
    if reader.is_alive():
        with open(corpus / DOC, "wb"):  # let the blocked reader go before failing
            pass
        reader.join()
        pytest.fail("the viewer blocked on a FIFO")
    assert "is no longer a regular file; it is not shown." in out[0]
    with pytest.raises(AssistantError, match="is no longer a regular file"):
        read_document(corpus, DOC)


def test_a_link_that_stays_inside_the_folder_still_reads(indexed: Assistant) -> None:
    corpus = indexed.settings.corpus_dir
    text = read_document(corpus, DOC).text
    (corpus / "alias.txt").symlink_to(corpus / DOC)
    assert read_document(corpus, "alias.txt").text == text
