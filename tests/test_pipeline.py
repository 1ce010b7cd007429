"""The whole answer path on fakes passed to `Assistant` (no weights, seconds): retrieval, evidence,
the prompt, verification, the Answer record, the CLI's printing and the UI's rendering."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from llama_index.core.base.llms.types import ChatMessage

from assistant import cli
from assistant.api import ABSTAIN, Assistant
from assistant.backends import Backend
from assistant.errors import AssistantError
from assistant.settings import Settings
from assistant.ui import render_answer
from tests.support import (
    FakeEncoder,
    ScriptedLLM,
    cite_sentence_with,
    copy_seeds,
    evidence_lines,
    fake_assistant,
)

ARIHA = "How many civilians were killed in the Ariha market attack?"


@pytest.fixture
def ariha(tmp_path: Path) -> Assistant:
    return fake_assistant(tmp_path, cite_sentence_with("49 civilians"))


def test_a_grounded_claim_comes_back_with_an_exact_verified_citation(ariha: Assistant) -> None:
    answer = ariha.ask(ARIHA)
    assert not answer.abstained and "49" in answer.text and answer.backend == "scripted"
    for c in answer.citations:
        assert ariha.document_text(c.file)[c.start : c.end] == c.quote and "49" in c.quote
    assert answer.evidence and answer.retrieved  # what the model saw and what retrieval found
    assert any(e.file == answer.citations[0].file for e in answer.evidence)


def test_nothing_grounded_abstains_with_leads(tmp_path: Path) -> None:
    a = fake_assistant(tmp_path, lambda prompt: {"claims": []})
    answer = a.ask("What is the capital of France?")
    assert answer.abstained and answer.text == ABSTAIN and not answer.citations
    assert answer.leads  # the nearest passages, offered as leads


def test_a_fabricated_figure_is_dropped_with_the_rule_that_dropped_it(tmp_path: Path) -> None:
    def liar(prompt: str) -> dict[str, object]:
        n = next(iter(evidence_lines(prompt)))
        return {"claims": [{"statement": "63 civilians died in Ariha.", "evidence": [n]}]}

    answer = fake_assistant(tmp_path, liar).ask(ARIHA)
    assert answer.abstained
    assert [d.text for d in answer.dropped] == ["63 civilians died in Ariha."]
    assert answer.dropped[0].reason.startswith("not carried")


def test_a_follow_up_carries_the_earlier_turn_into_the_prompt(ariha: Assistant) -> None:
    ariha.ask("And how many were there?", history=[(ARIHA, "49 civilians were killed. [1]")])
    llm = ariha.backend.llm
    assert isinstance(llm, ScriptedLLM)
    prompt = llm.prompts[-1]
    assert f"Earlier question: {ARIHA}" in prompt and "[1]" not in prompt.split("Earlier")[1]


def test_a_follow_up_is_read_with_its_referent_written_out(tmp_path: Path) -> None:
    luther = fake_assistant(tmp_path, cite_sentence_with("war crimes"))
    earlier = ("Who is Philip Luther?", "Philip Luther is a director at Amnesty International.")
    answer = luther.ask("What did he say about the attacks?", history=[earlier])
    llm = luther.backend.llm
    assert isinstance(llm, ScriptedLLM)
    assert "Question: What did Philip Luther say about the attacks?" in llm.prompts[-1]
    assert answer.question == "What did he say about the attacks?"  # shown as it was typed
    assert not answer.abstained and "war crimes" in answer.text


@dataclass
class _WritesOut(Backend):
    """The scripted model, whose plain reply (a follow-up written out) is `written`."""

    written: str = ""

    def reply(self, messages: Sequence[ChatMessage], max_tokens: int) -> str:
        return self.written


@pytest.mark.parametrize(
    ("written", "searched"),
    [
        (
            "How many of the 16 witnesses were doctors?",
            "How many of the 16 witnesses were doctors?",
        ),
        ("Who were the witnesses?", "How many of them were doctors?"),  # asks another thing
    ],
)
def test_a_follow_up_the_rules_leave_open_is_searched_as_the_model_wrote_it(
    tmp_path: Path, written: str, searched: str
) -> None:
    backend = _WritesOut(ScriptedLLM(cite_sentence_with("doctors")), "scripted", "m", written)
    a = Assistant(
        Settings(corpus_dir=copy_seeds(tmp_path), index_dir=tmp_path / "index"),
        encoder=FakeEncoder(),
        backend=backend,
    )
    a.ingest()
    earlier = ("How many witnesses did Amnesty interview by phone?", "16 witnesses. [1]")
    answer = a.ask("How many of them were doctors?", history=[earlier])
    llm = backend.llm
    assert isinstance(llm, ScriptedLLM)
    # the model answers the follow-up as typed, beside the earlier turn ...
    assert "Question: How many of them were doctors?\n" in llm.prompts[-1]
    assert "Earlier question: How many witnesses did Amnesty interview" in llm.prompts[-1]
    # ... and retrieval and evidence selection search with the written-out version
    assert (answer.searched or answer.question) == searched  # recorded where it differs
    assert answer.question == "How many of them were doctors?" and not answer.asked


def test_a_compound_question_is_answered_part_by_part(tmp_path: Path) -> None:
    def by_part(prompt: str) -> dict[str, object]:
        question = prompt.rsplit("Question: ", 1)[1]
        needle = "49 civilians" if "How many" in question else "war crimes"
        return cite_sentence_with(needle)(prompt)

    a = fake_assistant(tmp_path, by_part)
    answer = a.ask(f"{ARIHA[:-1]}, and what did Amnesty say the attacks may amount to?")
    llm = a.backend.llm
    assert isinstance(llm, ScriptedLLM)
    first, second = llm.prompts[-2:]
    assert f"Question: {ARIHA}\n" in first
    # the second part reads alone: the first part's words would only pull its sentences in
    assert "Earlier question" not in second
    assert "Question: What did Amnesty say the attacks may amount to?\n" in second
    second_part = "What did Amnesty say the attacks may amount to?"
    assert [p.question for p in answer.parts] == [ARIHA, second_part]
    assert "49" in answer.text and "war crimes" in answer.text and len(answer.claims) == 2
    for claim in answer.claims:  # numbered into the one citation list
        for n in claim.citations:
            c = answer.citations[n - 1]
            assert a.document_text(c.file)[c.start : c.end] == c.quote


def test_a_later_part_that_leans_on_the_first_is_asked_with_it(tmp_path: Path) -> None:
    a = fake_assistant(tmp_path, cite_sentence_with("49 civilians"))
    a.ask(f"{ARIHA[:-1]}, and how many of them were children?")
    llm = a.backend.llm
    assert isinstance(llm, ScriptedLLM)
    assert f"Earlier question: {ARIHA}" in llm.prompts[-1]


def test_a_compound_question_in_a_conversation_leans_on_its_own_first_part(
    tmp_path: Path,
) -> None:
    a = fake_assistant(tmp_path, cite_sentence_with("49 civilians"))
    earlier = ("Who is Philip Luther?", "Philip Luther is the director of Amnesty International.")
    answer = a.ask(
        "Did Amnesty say that Russia used cluster bombs, and who else accused it?",
        history=[earlier],
    )
    first, second = (p.question for p in answer.parts)
    assert first == "Did Amnesty say that Russia used cluster bombs?"
    # "it" is what the first part asked about, not the earlier turn's Philip Luther
    assert "Luther" not in second and "Russia" in second and "cluster bombs" in second
    llm = a.backend.llm
    assert isinstance(llm, ScriptedLLM)
    assert "Luther" not in llm.prompts[-1]


def test_the_days_between_two_events_are_counted_from_each_events_cited_date(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "town.txt").write_text(
        "The new bridge over the river opened on 3 March 2020 after two years of work.\n\n"
        "Heavy rain followed, and the flood reached the town centre on 17 March 2020.\n"
    )

    def dates(prompt: str) -> dict[str, object]:
        if "\nQuestion: " not in prompt:
            return {"claims": []}  # asked to write out "When was the flood?": no rewrite
        question = prompt.rsplit("Question: ", 1)[1]
        return cite_sentence_with("bridge" if "bridge" in question else "flood")(prompt)

    a = fake_assistant(tmp_path, dates, corpus)
    answer = a.ask("How many days passed between the opening of the bridge and the flood?")
    # asked as the two dates, each drafted and verified on its own; the program counts
    assert [p.question for p in answer.parts] == [
        "When was the bridge opened?",
        "When was the flood?",
    ]
    assert answer.claims[-1].text == "From 3 March 2020 to 17 March 2020 is 14 days."
    assert answer.claims[-1].citations == [1, 2]


def test_a_compound_question_says_which_part_the_documents_leave_open(tmp_path: Path) -> None:
    a = fake_assistant(tmp_path, cite_sentence_with("49 civilians"))
    answer = a.ask(f"{ARIHA[:-1]}, and who paid for the missiles?")
    assert not answer.abstained and "49" in answer.text
    assert answer.text.endswith("The documents do not answer “Who paid for the missiles?”")


def test_an_empty_question_is_one_sentence(ariha: Assistant) -> None:
    with pytest.raises(AssistantError, match="question is empty"):
        ariha.ask("   ")


def test_ask_json_and_printed_answer(ariha: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "make_assistant", lambda backend=None: ariha)
    runner = CliRunner()
    out = runner.invoke(cli.main, ["ask", "--json", ARIHA])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["citations"] and data["evidence"] and "dropped" in data
    printed = runner.invoke(cli.main, ["ask", ARIHA])
    assert printed.exit_code == 0 and "[1]" in printed.output and "49" in printed.output


def test_the_ui_renders_the_answer_as_escaped_text_with_citation_buttons(
    ariha: Assistant,
) -> None:
    answer = ariha.ask(ARIHA)
    html = render_answer(answer)
    assert "49" in html and "opens-source" in html


def test_a_question_without_words_is_refused_before_the_model(ariha: Assistant) -> None:
    llm = ariha.backend.llm
    assert isinstance(llm, ScriptedLLM)
    asked = len(llm.prompts)
    with pytest.raises(AssistantError, match="no words"):
        ariha.ask("?!...")
    assert len(llm.prompts) == asked  # the model was never asked


def test_a_bad_setting_through_the_python_api_is_one_sentence() -> None:
    with pytest.raises(AssistantError, match="ASSISTANT_CHUNK_TOKENS=0 is not valid"):
        Assistant(chunk_tokens=0)


def test_a_file_edited_after_ingestion_is_named_in_a_one_line_notice(ariha: Assistant) -> None:
    assert ariha.ask(ARIHA).notice is None
    edited = ariha.settings.corpus_dir / "001_46bde3bbeec631bf.txt"
    edited.write_text(edited.read_text() + "\nA correction was added later.\n")
    os.utime(edited, ns=(edited.stat().st_atime_ns, edited.stat().st_mtime_ns + 10**9))
    notice = ariha.ask(ARIHA).notice
    assert notice is not None and "001_46bde3bbeec631bf.txt" in notice
    assert "assistant ingest" in notice and "\n" not in notice


def test_example_questions_only_for_the_shipped_seeds(ariha: Assistant, tmp_path: Path) -> None:
    from assistant.ui import SEED_EXAMPLES, example_questions

    assert example_questions(ariha) == SEED_EXAMPLES
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("The boiler is serviced every spring by the caretaker.")
    a = fake_assistant(tmp_path / "o", cite_sentence_with("boiler"), corpus=other)
    assert example_questions(a) == []


def test_the_evidence_being_read_is_shown_before_the_first_token(ariha: Assistant) -> None:
    from assistant.ui import render_draft

    kinds, reading = [], []
    for event in ariha.stream(ARIHA):
        kinds.append(event.kind)
        if event.kind == "reading":
            reading = event.reading
    assert kinds.index("reading") < kinds.index("token") < kinds.index("answer")
    for c in reading:  # each one a span a person can open: file, line, exact text
        text = ariha.document_text(c.file)
        assert text[c.start : c.end] == c.quote and c.line == text.count("\n", 0, c.start) + 1
    answer = ariha.ask(ARIHA)
    assert [(c.file, c.start) for c in reading] == [(e.file, e.start) for e in answer.evidence]
    html = render_draft("Asking", "", reading)
    assert f"Reading {len(reading)} sentences" in html and "opens-source" in html
    assert f"read {len(reading)} sentences" in render_answer(answer)


def test_ask_prints_the_evidence_it_reads_on_stderr(
    ariha: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "make_assistant", lambda backend=None: ariha)
    out = CliRunner().invoke(cli.main, ["ask", ARIHA])
    assert out.exit_code == 0 and "Reading" in out.stderr and ".txt, line " in out.stderr
    assert "Reading" not in out.stdout  # the answer itself stays clean for a pipe
