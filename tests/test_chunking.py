"""Passages are exact spans of their document, whatever the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.chunking import chunk, sentence_spans, words_count
from assistant.schema import Document
from tests.support import SEEDS

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=3000
) | st.lists(
    st.sampled_from(
        [
            "Sept. 30",
            "the U.S.",
            "Hello world.",
            "Ünïcödé «text»!",
            "\n\n",
            " ",
            "日本語の文章",
            "🙂",
            "A" * 300,
            "end?",
            "\r\n",
            "\t",
        ]
    ),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=texts, max_tokens=st.integers(1, 200), overlap=st.integers(0, 60))
def test_every_passage_is_the_exact_span(text: str, max_tokens: int, overlap: int) -> None:
    doc = Document(file="f.txt", text=text, sha256="x")
    passages = chunk(doc, max_tokens, overlap, words_count)
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text.strip() == p.text and p.text
    # Nothing readable is lost: every non-space character lies in some passage.
    covered = set()
    for p in passages:
        covered.update(range(p.start, p.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # Passages advance through the document.
    starts = [p.start for p in passages]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


@given(text=texts)
def test_sentence_spans_are_exact_and_ordered(text: str) -> None:
    spans = sentence_spans(text)
    for a, b in spans:
        assert 0 <= a < b <= len(text) and text[a:b].strip() == text[a:b]
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Russia began on Sept. 30, it said. Iran and the U.S. are meeting. Mr. Putin spoke."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Russia began on Sept. 30, it said.",
        "Iran and the U.S. are meeting.",
        "Mr. Putin spoke.",
    ]


def test_seed_passages_fit_the_token_budget() -> None:
    for path in sorted(SEEDS.iterdir()):
        doc = Document(file=path.name, text=path.read_text(), sha256="x")
        passages = chunk(doc, 160, 24, words_count)
        assert passages and all(len(p.text.split()) <= 160 for p in passages)


# Technical text: paths, hosts, versions and addresses end sentences; initials do not.
TECHNICAL = [
    ("The file is /etc/apt/sources.list. Edit it with care.", 2),
    ("Visit https://www.debian.org/doc. It has manuals.", 2),
    ("The default is 10.0.0.1. Change it if needed.", 2),
    ("Mr. Smith wrote it (see Sect. 4.2). It works.", 2),
    ("Python v3.11.2 is required. Older versions fail.", 2),
    ("Use a tool, e.g. apt, to install it. Then reboot.", 2),
    ("The U.S. government uses it. So does the EU.", 2),
    ("Steps:\n1. Install it.\n2. Configure it.", 3),
    ("Wait ... Then it works.", 1),
]


def test_technical_sentences_split_where_a_reader_would() -> None:
    for text, expected in TECHNICAL:
        assert len(sentence_spans(text)) == expected, text
