"""The JSON structure proposed ahead of the model while a draft is decoded (backends.LOOKAHEAD)."""

from __future__ import annotations

import pytest

from assistant.backends import json_lookahead

STATEMENT = '{"claims": [{"statement": "49 civilians were killed.'


@pytest.mark.parametrize(
    ("written", "ahead"),
    [
        ("", '{"claims": [{"statement": "'),
        ('{"', 'claims": [{"statement": "'),
        (STATEMENT + '"', ', "evidence": ['),
        (STATEMENT + '",', ' "evidence": ['),  # the model's '",' is one token
        (STATEMENT + '", "evidence": [1, 3]', "}]}"),
        (STATEMENT + '", "evidence": [1, 3]}', "]}"),
        (STATEMENT + '", "evidence": [1, 3]},', ' {"statement": "'),
    ],
)
def test_the_structure_that_follows_is_proposed(written: str, ahead: str) -> None:
    assert json_lookahead(written) == ahead


@pytest.mark.parametrize(
    "written",
    [
        STATEMENT,  # inside a statement: only the model knows its words
        '{"claims": [{"statement": "He said \\"',  # an escaped quote does not end it
        STATEMENT + '", "evidence": [1, ',  # the ids are the model's
        '{"claims": []}',  # nothing to answer: done
    ],
)
def test_nothing_is_proposed_where_only_the_model_knows(written: str) -> None:
    assert json_lookahead(written) == ""
