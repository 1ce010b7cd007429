"""Side by side with LlamaIndex's stock CitationQueryEngine: same questions, machine, LLM, encoder.

    .venv/bin/python bench/peer.py [--limit N]      # N questions spread over all kinds

The peer is built as LlamaIndex's CitationQueryEngine example notebook shows
(docs/examples/query_engine/citation_query_engine.ipynb): `SimpleDirectoryReader(dir)
.load_data()`, `VectorStoreIndex.from_documents(documents)` with the default chunking (1,024-token
nodes), `CitationQueryEngine.from_args(index, similarity_top_k=3, citation_chunk_size=512)`,
`engine.query(question)`. The LLM is the same embedded Qwen model our pipeline uses (one llama.cpp
model in this process, shared), and the encoder is the same MiniLM, behind a small llama-index
`BaseEmbedding` adapter. The engine is built with `streaming=True` so the first token can be
timed; the answer text is then exactly what `query()` returns without streaming.

Both answer every question of evals/dev.jsonl, warm (one warm-up question each first), and the
evals' own scorer (assistant/evaluation.py) scores both. The peer's answer becomes an `Answer`:
its text, and as citations the source nodes its "[n]" markers name (LlamaIndex numbers them
"Source 1..n"). Those sub-nodes carry no character offsets, so each is located in the file text
with str.find; a node that cannot be found stays a citation with start = end = -1 and scores as
unverifiable. The peer abstains when it cites nothing and says it cannot answer.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).parent))

from common import CASES, Figures, copy_seeds, fmt, peak_rss_mb, script_options  # noqa: E402
from llama_index.core import Settings as LlamaSettings  # noqa: E402
from llama_index.core import SimpleDirectoryReader, VectorStoreIndex  # noqa: E402
from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.base.response.schema import StreamingResponse  # noqa: E402
from llama_index.core.instrumentation import get_dispatcher  # noqa: E402
from llama_index.core.instrumentation.event_handlers import BaseEventHandler  # noqa: E402
from llama_index.core.instrumentation.events import BaseEvent  # noqa: E402
from llama_index.core.instrumentation.events.llm import (  # noqa: E402
    LLMChatStartEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.query_engine import CitationQueryEngine  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

from assistant import Assistant, evaluation  # noqa: E402
from assistant.embedding import Encoder  # noqa: E402
from assistant.errors import AssistantError  # noqa: E402
from assistant.evaluation import Case, CaseResult, Metrics, compute_metrics, load_cases, score_case  # noqa: E402
from assistant.loading import read_document  # noqa: E402
from assistant.schema import Answer, Citation  # noqa: E402
from assistant.settings import Settings  # noqa: E402

WARM_UP = "Warm-up: who is Philip Luther?"
# What the notebook uses.
SIMILARITY_TOP_K = 3
CITATION_CHUNK_SIZE = 512

MARKER = re.compile(r"\[(?:sources?\s*)?(\d+(?:\s*(?:,|and)\s*(?:source\s*)?\d+)*)\]", re.I)
SOURCE_PREFIX = re.compile(r"\ASource \d+:\n")
CANNOT = re.compile(
    r"\b(not|no information|does not|do not|cannot|can't|unable|none of the sources)\b", re.I)

# (field, label, shown as %) — the evals' metrics, in the evals' order.
# The evals' rows, with the number of citations (the peer cites differently) for the cases.
ROWS = (*(row for row in evaluation.ROWS if row[0] != "cases"), ("citations", "citations", False))


class MiniLMEmbedding(BaseEmbedding):
    """The product's MiniLM encoder as a llama-index embedding model (vectors are unit length)."""

    _encoder: Encoder = PrivateAttr()

    def __init__(self, encoder: Encoder, **kwargs: Any) -> None:
        super().__init__(model_name=encoder.id, **kwargs)
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._encoder.embed([query])[0]]

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._encoder.embed([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._encoder.embed(texts)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class PromptCounter(BaseEventHandler):
    """Counts the LLM calls the peer makes and the tokens of their prompts."""

    count_tokens: Callable[[str], int]
    calls: int = 0
    tokens: int = 0

    @classmethod
    def class_name(cls) -> str:
        return "PromptCounter"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatStartEvent):
            text = "\n".join(m.content or "" for m in event.messages)
            # As the product counts its own prompts (EmbeddedBackend.count_prompt_tokens).
            self.tokens += self.count_tokens(text) + 10 * len(event.messages)
            self.calls += 1
        elif isinstance(event, LLMCompletionStartEvent):
            self.tokens += self.count_tokens(event.prompt)
            self.calls += 1


# -- the peer ---------------------------------------------------------------------------------


def build_peer(
    corpus: Path, llm: Any, embed_model: BaseEmbedding
) -> tuple[CitationQueryEngine, int]:
    LlamaSettings.llm = llm  # as the notebook does (Settings.llm / Settings.embed_model)
    LlamaSettings.embed_model = embed_model
    documents = SimpleDirectoryReader(str(corpus)).load_data()
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
    engine = CitationQueryEngine.from_args(
        index, llm=llm, similarity_top_k=SIMILARITY_TOP_K,
        citation_chunk_size=CITATION_CHUNK_SIZE, streaming=True,
    )
    return engine, len(index.docstore.docs)


def node_file(metadata: dict[str, Any], corpus: Path) -> str:
    path = metadata.get("file_path")
    if path:
        try:
            return Path(path).resolve().relative_to(corpus.resolve()).as_posix()
        except ValueError:
            pass
    return str(metadata.get("file_name", "?"))


def cited_numbers(text: str) -> list[int]:
    numbers: list[int] = []
    for match in MARKER.finditer(text):
        for n in re.findall(r"\d+", match.group(1)):
            if int(n) not in numbers:
                numbers.append(int(n))
    return numbers


def peer_answer(question: str, response: Any, text: str, corpus: Path,
                texts: dict[str, str], timings: dict[str, float], prompt_tokens: int) -> Answer:
    """The peer's response as the product's Answer, so that the same scorer scores both."""
    sources = response.source_nodes
    citations = []
    for n in cited_numbers(text):
        if not 1 <= n <= len(sources):
            continue  # a marker naming no source: nothing to cite
        node = sources[n - 1].node
        body = SOURCE_PREFIX.sub("", node.get_content(), count=1).removesuffix("\n")
        file = node_file(node.metadata, corpus)
        doc = texts.get(file, "")
        at = doc.find(body) if body else -1
        if at >= 0:
            citations.append(Citation(file=file, start=at, end=at + len(body), quote=body,
                                      line=doc.count("\n", 0, at) + 1))
        else:
            citations.append(Citation(file=file, start=-1, end=-1, quote=body, line=0))
    abstained = not citations and bool(CANNOT.search(text))
    return Answer(question=question, text=text, citations=citations, abstained=abstained,
                  backend="llama-index CitationQueryEngine", timings=timings,
                  prompt_tokens=prompt_tokens)


def ask_peer(engine: CitationQueryEngine, question: str, corpus: Path, texts: dict[str, str],
             counter: PromptCounter) -> tuple[Answer, str | None, int]:
    """(answer, error, LLM calls)."""
    counter.calls = counter.tokens = 0
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        response = cast(StreamingResponse, engine.query(question))  # streaming=True
        parts = []
        for delta in cast(Iterator[str], response.response_gen):
            if delta and "first_token_s" not in timings:
                timings["first_token_s"] = time.perf_counter() - started
            parts.append(delta)
    except (AssistantError, ValueError) as exc:  # e.g. a prompt larger than the context window
        timings["total_s"] = time.perf_counter() - started
        stand_in = Answer(question=question, text=f"(error) {exc}", timings=timings)
        return stand_in, str(exc), counter.calls
    timings["total_s"] = time.perf_counter() - started
    answer = peer_answer(question, response, "".join(parts).strip(), corpus, texts, timings,
                         counter.tokens)
    return answer, None, counter.calls


def progress(label: str, answer: Answer) -> None:
    """One line per question on stderr (not part of the figures)."""
    total = answer.timings.get("total_s")
    print(f"  {label}: {fmt(total)} s, {len(answer.citations)} citations", file=sys.stderr,
          flush=True)


def ask_ours(assistant: Assistant, question: str) -> tuple[Answer, str | None]:
    try:
        return assistant.ask(question), None
    except AssistantError as exc:
        return Answer(question=question, text=f"(error) {exc}"), str(exc)


# -- the report -------------------------------------------------------------------------------


def side_by_side(ours: Metrics, peer: Metrics) -> list[str]:
    lines = [f"{'metric':<30} {'ours':>10} {'peer':>10} {'ours/peer':>10}"]
    for name, label, ratio in ROWS:
        a, b = getattr(ours, name), getattr(peer, name)
        quotient = f"{a / b:.2f}" if a is not None and b else "n/a"
        mine, theirs = evaluation.format_metric(a, ratio), evaluation.format_metric(b, ratio)
        lines.append(f"{label:<30} {mine:>10} {theirs:>10} {quotient:>10}")
    return lines


def verdict_counts(results: list[CaseResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0,
                        help="only N questions, spread evenly over the case file (all kinds)")
    parser.add_argument("--show", action="store_true", help="print every answer of both")
    parser.add_argument("--model", default=None,
                        help="another embedded GGUF for both (plumbing checks only; the "
                             "comparison uses the product's default model)")
    args = parser.parse_args()
    fig = Figures("peer", partial=bool(args.limit or args.model), options=script_options())
    every: list[Case] = load_cases(CASES)
    n = min(args.limit or len(every), len(every))
    cases = [every[i * len(every) // n] for i in range(n)]  # evenly spread: every kind appears

    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    try:
        corpus = copy_seeds(work / "corpus")
        settings = Settings(corpus_dir=corpus, index_dir=work / "index", backend="embedded",
                            **({"embedded_model": args.model} if args.model else {}))
        assistant = Assistant(settings)
        t = time.perf_counter()
        assistant.ingest()
        ours_build_s = time.perf_counter() - t
        llm = assistant.backend.llm  # EmbeddedLLM: the llama.cpp model, loaded once, shared
        texts = {p.relative_to(corpus).as_posix(): read_document(corpus, p.relative_to(corpus)
                                                                  .as_posix()).text
                 for p in sorted(corpus.rglob("*")) if p.is_file()}

        t = time.perf_counter()
        engine, peer_nodes = build_peer(corpus, llm, MiniLMEmbedding(assistant.encoder))
        peer_build_s = time.perf_counter() - t
        counter = PromptCounter(count_tokens=llm.count_tokens)  # type: ignore[attr-defined]
        get_dispatcher().add_event_handler(counter)

        progress("peer warm-up", ask_peer(engine, WARM_UP, corpus, texts, counter)[0])
        peer_runs = []
        for n, c in enumerate(cases, start=1):
            peer_runs.append(ask_peer(engine, c.question, corpus, texts, counter))
            progress(f"peer {n}/{len(cases)}", peer_runs[-1][0])
        progress("ours warm-up", assistant.ask(WARM_UP))
        ours_runs = []
        for n, c in enumerate(cases, start=1):
            ours_runs.append(ask_ours(assistant, c.question))
            progress(f"ours {n}/{len(cases)}", ours_runs[-1][0])

        peer_results = [score_case(c, a, texts, e)
                        for c, (a, e, _) in zip(cases, peer_runs, strict=True)]
        ours_results = [score_case(c, a, texts, e)
                        for c, (a, e) in zip(cases, ours_runs, strict=True)]
        peer_m, ours_m = compute_metrics(peer_results), compute_metrics(ours_results)

        calls = [n for _, _, n in peer_runs]
        located = [c.start >= 0 for a, _, _ in peer_runs for c in a.citations]
        fig.line(f"questions: {len(cases)} (evals/dev.jsonl); corpus seeds/ "
                 f"({len(texts)} files); model {assistant.backend.model}, threads "
                 f"{settings.threads}; encoder {assistant.encoder.id} for both")
        fig.line(f"peer: CitationQueryEngine.from_args(similarity_top_k={SIMILARITY_TOP_K}, "
                 f"citation_chunk_size={CITATION_CHUNK_SIZE}), default chunking: "
                 f"{peer_nodes} nodes; built in {peer_build_s:.1f} s")
        fig.line(f"ours: Assistant, backend embedded; ingest {ours_build_s:.1f} s")
        fig.line(f"peer LLM calls per question: mean {sum(calls) / max(1, len(calls)):.2f}, "
                 f"max {max(calls, default=0)} (compact mode refines when sources overflow)")
        fig.line(f"peer citations located in the file text: {sum(located)} of {len(located)} "
                 "(the rest are unverifiable)")
        fig.line("")
        for row in side_by_side(ours_m, peer_m):
            fig.line(row)
        fig.line("")
        fig.line(f"verdicts, ours: {verdict_counts(ours_results)}")
        fig.line(f"verdicts, peer: {verdict_counts(peer_results)}")
        fig.line("first token: ours = first visible statement text; peer = first non-empty "
                 "streamed delta")
        fig.line(f"peak memory (RSS, both in this process): {peak_rss_mb():.0f} MB")
        if args.show:
            for c, po, pp in zip(cases, ours_results, peer_results, strict=True):
                print(f"\n[{c.id}] {c.question}\n  ours ({po.verdict}, "
                      f"{fmt(po.total_s)} s): {po.answer}\n  peer ({pp.verdict}, "
                      f"{fmt(pp.total_s)} s, {len(pp.citations)} citations): {pp.answer}")
        fig.set("ours", ours_m.model_dump())
        fig.set("peer", peer_m.model_dump())
        fig.set("questions", len(cases))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"written to {fig.save()}")


if __name__ == "__main__":
    main()
