"""The Python API: `Assistant` ties the stages of the data path together.

from assistant import Assistant
a = Assistant()
a.ingest("seeds/")
ans = a.ask("How many civilians were killed in the Ariha market attack?")
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from assistant.embedding import Encoder, RememberingEncoder, make_encoder
from assistant.errors import AssistantError, DocumentUnavailableError
from assistant.index import IndexStore, Manifest
from assistant.ingest import Progress, ProgressLine, ingest, pending_changes
from assistant.loading import read_document
from assistant.questions import (
    faithful,
    leans_on_context,
    parts,
    question_words_error,
    standalone,
)
from assistant.schema import (
    OPEN_PART,
    Answer,
    Citation,
    Document,
    Evidence,
    IndexStats,
    IngestReport,
    Part,
    Passage,
    SourceSpan,
    StreamEvent,
    Turn,
)
from assistant.settings import Settings, load_settings

if TYPE_CHECKING:
    from assistant.backends import Backend
    from assistant.generation import Generation
    from assistant.retrieval import HybridRetriever, Ranked
    from assistant.verification import Verified

# The answering stages import llama-index (~1-2 s); they are imported on first use so that
# `assistant ingest` on an unchanged folder returns at once.

ABSTAIN = "The documents do not say."
LEADS = 3


class Assistant:
    """`encoder` and `backend` default to what the settings choose; tests pass small fakes."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        encoder: Encoder | None = None,
        backend: Backend | None = None,
        **overrides: Any,
    ) -> None:
        self.settings = settings or load_settings(**overrides)
        self.store = IndexStore(self.settings)
        self._encoder = encoder
        self._sentence_encoder: Encoder | None = None
        self._backend = backend
        self._retriever: tuple[float, HybridRetriever] | None = None
        self._documents: dict[str, tuple[int, Document]] = {}
        self.ready = threading.Event()  # set once warm_up() has loaded everything
        self._warming: threading.Thread | None = None

    # -- components, loaded on first use ------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = make_encoder(self.settings)
        return self._encoder

    @property
    def sentence_encoder(self) -> Encoder:
        """The encoder for evidence selection, which embeds the same sentences again and again."""
        if self._sentence_encoder is None:
            self._sentence_encoder = RememberingEncoder(self.encoder)
        return self._sentence_encoder

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from assistant.backends import make_backend

            self._backend = make_backend(self.settings)
        return self._backend

    def retriever(self) -> HybridRetriever:
        """Reopened whenever an ingestion (here or in another process) replaced the manifest."""
        try:
            stamp = self.store.manifest_path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        if self._retriever is None or self._retriever[0] != stamp:
            from assistant.retrieval import HybridRetriever

            manifest = self.store.require_manifest()
            self._retriever = (stamp, HybridRetriever(self.store, manifest, self.encoder))
        return self._retriever[1]

    def manifest(self) -> Manifest:
        return self.retriever().manifest

    # -- indexing -----------------------------------------------------------------------------
    def ingest(
        self,
        folder: str | Path | None = None,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        corpus = Path(folder) if folder is not None else self.settings.corpus_dir
        return ingest(
            self.settings, corpus, lambda: self.encoder, rebuild=rebuild, progress=progress
        )

    def index_stats(self) -> IndexStats:
        return self.store.stats()

    def document_text(self, file: str) -> str:
        """The current text of an indexed file; refuses anything the index does not name."""
        return self.document(file).text

    def document(self, file: str) -> Document:
        """The current document (text, pages, sections) of an indexed file, re-read when the file
        changed; refuses anything the index does not name."""
        manifest = self.manifest()
        if file not in manifest.files or manifest.corpus_dir is None:
            raise AssistantError(f"'{file}' is not an indexed document.")
        path = Path(manifest.corpus_dir) / file
        try:
            mtime = path.stat().st_mtime_ns
        except OSError as exc:
            raise DocumentUnavailableError(
                f"'{file}' can no longer be read ({exc.strerror}); run `assistant ingest` to "
                "bring the index up to date."
            ) from None
        cached = self._documents.get(file)
        if cached is None or cached[0] != mtime:
            cached = (mtime, read_document(Path(manifest.corpus_dir), file))
            self._documents[file] = cached
        return cached[1]

    def _locate(self, citations: list[Citation]) -> list[Citation]:
        """Give each citation its page or section, from the document it was verified against."""
        for c in citations:
            try:
                document = self.document(c.file)
            except (OSError, AssistantError):
                continue
            c.page, c.section = document.page_at(c.start), document.section_at(c.start)
        return citations

    def pending_changes(self) -> list[str]:
        """Indexed files that changed or vanished and new files, since the last ingestion, by
        size and mtime (a stat per file, nothing read)."""
        manifest = self.manifest()
        if manifest.corpus_dir is None:
            return []
        try:
            return pending_changes(
                manifest, Path(manifest.corpus_dir), self.settings.max_file_bytes
            )
        except OSError:
            return []

    def stale_notice(self) -> str | None:
        """One line when files changed, appeared or vanished since the last ingestion, else None."""
        changed = self.pending_changes()
        if not changed:
            return None
        return (
            f"The index is out of date: {_files(changed)} changed since the last ingestion; "
            "run `assistant ingest` to update it."
        )

    def refresh(self) -> Iterator[StreamEvent]:
        """Re-ingest what changed since the last ingestion, if anything did: "status" events
        while it runs, then a "notice" saying in one line what was done (or why it could not)."""
        changed = self.pending_changes()
        manifest = self.manifest()
        if not changed or manifest.corpus_dir is None:
            return
        corpus = Path(manifest.corpus_dir)
        lines: queue.Queue[str] = queue.Queue()
        line = ProgressLine()
        outcome: list[IngestReport | AssistantError] = []

        def run() -> None:
            try:
                outcome.append(self.ingest(corpus, progress=lambda *a: lines.put(line(*a))))
            except AssistantError as exc:
                outcome.append(exc)

        # The ingestion runs in a thread so that its progress reaches the caller as it happens.
        worker = threading.Thread(target=run, name="re-index", daemon=True)
        worker.start()
        while worker.is_alive() or not lines.empty():
            with contextlib.suppress(queue.Empty):
                yield StreamEvent(kind="status", text=lines.get(timeout=0.2))
        worker.join()
        result = outcome[0] if outcome else AssistantError("the re-indexing stopped")
        if isinstance(result, AssistantError):
            text = f"The documents changed but the index could not be updated: {result}"
            yield StreamEvent(kind="notice", text=text)
            return
        touched = [*result.added, *result.updated, *result.removed]
        if touched:
            text = (
                f"Re-indexed {_files(touched)} that changed since the last ingestion "
                f"({result.seconds:.1f} s)."
            )
            yield StreamEvent(kind="notice", text=text)

    def warm_up(self) -> None:
        """Open the index and load the encoder and the model, reading the system prompt once,
        so the first question costs what any question costs (the UI and `chat` call this in the
        background at start). Problems are left for the first question to report."""
        from assistant.generation import build_messages

        try:
            self.retriever()
            self.encoder.embed(["warm-up"])
            self.backend.warm_up(build_messages("?", []))
        except (AssistantError, OSError):
            pass
        finally:
            self.ready.set()

    def start_warm_up(self) -> None:
        if self._warming is not None:
            return  # once: two warm-ups would load and run the model in two threads at once
        # Imported here, in the calling thread: llama-index's package imports are circular and
        # fail when two threads run them at once (the UI imports it too).
        import assistant.backends  # noqa: F401
        import assistant.evidence  # noqa: F401
        import assistant.generation  # noqa: F401
        import assistant.retrieval  # noqa: F401
        import assistant.verification  # noqa: F401

        self._warming = threading.Thread(target=self.warm_up, name="warm-up", daemon=True)
        self._warming.start()

    # -- answering ----------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[Turn | tuple[str, str]] = (),
        *,
        refresh: bool = False,
    ) -> Answer:
        answer = None
        for event in self.stream(question, history, refresh=refresh):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn | tuple[str, str]] = (),
        *,
        refresh: bool = False,
    ) -> Iterator[StreamEvent]:
        """The answer's progress, tokens and then the verified answer. With `refresh`, files
        that changed since the last ingestion are re-ingested first (the UI and `chat`); without,
        the answer only notes that the index is out of date (`ask`)."""
        started = time.perf_counter()
        question, notice = self._clean(question)
        if self._warming is not None:
            self._warming.join()  # one model, one caller at a time: the warm-up finishes first
        turns = [t if isinstance(t, Turn) else Turn(question=t[0], answer=t[1]) for t in history]
        timings: dict[str, float] = {}
        if refresh:
            for event in self.refresh():
                if event.kind == "notice":
                    notice = notice or event.text
                yield event
            timings["refresh_s"] = time.perf_counter() - started

        # Split first: only the first part can lean on the earlier turn; the later parts lean on
        # the first ("..., and who else accused it?": "it" is in the first part).
        questions = parts(question) if self.settings.split_compound else [question]
        typed = questions[0]
        puts = list(questions)  # each part as the model is asked it
        search = typed  # what retrieval and evidence selection search with
        if turns and self.settings.resolve_follow_ups:
            questions[0], puts[0], search = self._follow_up(typed, turns[-1], timings)
        results: list[_Part] = []
        single = len(questions) == 1
        for n, part in enumerate(questions):
            if n == 0:
                found_by = search if single else part  # a compound question's rewrite is unused
                part_turns = turns
                if not turns or not leans_on_context(typed):
                    # a question that reads alone as typed starts a new topic: the earlier
                    # question would only pull its own passages into the search
                    query = select_by = found_by
                else:
                    query = f"{turns[-1].question} {found_by}"
                    # a rewritten follow-up says what it asks
                    select_by = found_by if found_by != typed else query
            else:  # the later part leans on the first, as a follow-up on its earlier turn
                first = results[0]
                earlier = first.verified.text() if not first.verified.abstained else ABSTAIN
                found_by = part
                if self.settings.resolve_follow_ups:
                    part, puts[n], found_by = self._follow_up(
                        part, Turn(question=questions[0], answer=earlier), timings
                    )
                if leans_on_context(puts[n]):
                    query = select_by = f"{questions[0]} {found_by}"
                    part_turns = [Turn(question=questions[0], answer=earlier)]
                else:
                    # written out, it reads alone: the first part's words and answer would
                    # only pull the first part's sentences in again ("who else ...")
                    query = select_by = found_by
                    part_turns = []
            result = yield from self._answer_part(
                part,
                puts[n],
                query,
                select_by,
                part_turns,
                shown=[r.evidence for r in results],
                timings=timings,
                started=started,
            )
            results.append(result)
        timings["total_s"] = time.perf_counter() - started

        verified, text = combined_answer(question, questions, [r.verified for r in results])
        # the question as the rules wrote it out, where they did: the first part, and with it
        # a compound question's later parts as they are
        asked = question if questions[0] == typed else " ".join(questions)
        backend = self.backend
        answer = Answer(
            question=question,
            asked=asked if asked != question else "",
            searched=search if single and search not in (question, asked) else "",
            text=text,
            claims=verified.claims,
            citations=self._locate(verified.citations),
            abstained=verified.abstained,
            conflict=verified.conflict,
            leads=self._locate(self._leads(results[0].ranked)) if verified.abstained else [],
            dropped=verified.dropped,
            draft="\n".join(r.generation.text for r in results),
            evidence=[e for r in results for e in r.evidence],
            retrieved=list(
                {
                    (s.file, s.start, s.end): s for r in results for s in _source_spans(r.ranked)
                }.values()
            ),
            notice=notice or (None if refresh else self.stale_notice()),
            backend=backend.name,
            model=backend.model,
            timings=timings,
            prompt_tokens=sum(r.generation.prompt_tokens for r in results),
            parts=[
                Part(
                    question=r.question,
                    draft=r.generation.text,
                    evidence=r.evidence,
                    retrieved=_source_spans(r.ranked),
                )
                for r in results
            ]
            if len(results) > 1
            else [],
        )
        yield StreamEvent(kind="answer", text=answer.text, answer=answer)

    def _answer_part(
        self,
        asked: str,
        put: str,
        query: str,
        select_by: str,
        turns: Sequence[Turn],
        *,
        shown: Sequence[list[Evidence]],
        timings: dict[str, float],
        started: float,
    ) -> Generator[StreamEvent, None, _Part]:
        """Retrieval (by `query`), evidence (the sentences nearest `select_by`), the model and
        verification for one question: the whole question, or one part of a compound one.
        `asked` is the question as verification reads it, `put` as the model is asked it;
        `shown` what earlier parts read."""
        from assistant.evidence import select_evidence
        from assistant.generation import Generation, build_messages, generate, parse_claims
        from assistant.verification import verify_part

        yield StreamEvent(kind="status", text="Searching the documents")
        ranked = self.retriever().retrieve(query, self.settings.top_k, timings)
        t = time.perf_counter()
        evidence = select_evidence(
            select_by,
            ranked,
            self.sentence_encoder,
            self.settings.evidence_sentences,
            self.settings.evidence_tokens,
        )
        timings["evidence_s"] = timings.get("evidence_s", 0.0) + time.perf_counter() - t

        backend = self.backend
        generation = Generation()
        if evidence:
            earlier = [e for part in shown for e in part]
            reading = self._locate(self._spans([*earlier, *evidence]))
            timings.setdefault("reading_s", time.perf_counter() - started)
            yield StreamEvent(kind="reading", reading=reading)
            yield StreamEvent(kind="status", text=f"Asking {backend.model}")
            t = time.perf_counter()
            if shown:
                yield StreamEvent(kind="token", text=" ")  # between the parts' statements
            for delta in generate(
                backend,
                build_messages(put, evidence, turns),
                self.settings.context_window,
                self.settings.max_answer_tokens,
                generation,
            ):
                timings.setdefault("first_token_s", time.perf_counter() - started)
                yield StreamEvent(kind="token", text=delta)
            timings["generate_s"] = timings.get("generate_s", 0.0) + time.perf_counter() - t

        t = time.perf_counter()
        judge = backend.support_judge() if self.settings.support_check else None
        passages = [hit.passage.text for hit in ranked]
        drafts = parse_claims(generation.text)
        verified = verify_part(asked, drafts, evidence, passages, self.document_text, judge)
        timings["verify_s"] = timings.get("verify_s", 0.0) + time.perf_counter() - t
        return _Part(asked, ranked, evidence, generation, verified)

    def _follow_up(self, question: str, earlier: Turn, timings: dict[str, float]) -> _Read:
        """The follow-up with what it refers to written out by the rules in questions.py (what
        verification checks; the model is asked the same but for "who else", see `standalone`),
        and what retrieval and evidence selection search with: where the rules leave it leaning
        on the earlier turn, the model's own version, if it still asks the same. The model
        answering sees the earlier turn itself; given the written-out version it took "how many
        of them were civilians" for all civilians."""
        from assistant.generation import written_out

        asked = standalone(question, earlier.question, earlier.answer)
        put = standalone(question, earlier.question, earlier.answer, set_apart=False)
        if self.settings.rewrite_follow_ups and leans_on_context(asked):
            t = time.perf_counter()
            written = written_out(self.backend, question, earlier)
            timings["rewrite_s"] = timings.get("rewrite_s", 0.0) + time.perf_counter() - t
            if faithful(question, written):
                return _Read(asked, put, written)
        return _Read(asked, put, put)

    def _clean(self, question: str) -> tuple[str, str | None]:
        question = " ".join(question.split())
        if not question:
            raise AssistantError("The question is empty; type a question about your documents.")
        if problem := question_words_error(question):
            raise AssistantError(problem)  # before the model is asked: it could only abstain
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return question[:limit], f"The question was cut to its first {limit} characters."
        return question, None

    def _leads(self, ranked: list[Ranked]) -> list[Citation]:
        return self._spans([hit.passage for hit in ranked[:LEADS]])

    def _spans(self, spans: Sequence[Passage | Evidence]) -> list[Citation]:
        """Indexed spans as citations a person can open, dropping any whose file no longer
        holds that text (edited since ingestion)."""
        out = []
        for span in spans:
            try:
                text = self.document_text(span.file)
            except (OSError, AssistantError, ValueError):
                continue
            if text[span.start : span.end] == span.text:
                out.append(
                    Citation(
                        file=span.file,
                        start=span.start,
                        end=span.end,
                        quote=span.text,
                        line=text.count("\n", 0, span.start) + 1,
                    )
                )
        return out


def combined_answer(
    question: str, questions: Sequence[str], parts: Sequence[Verified]
) -> tuple[Verified, str]:
    """The verified parts of a question as one answer, and its text: ABSTAIN when no part holds
    an answer, else the claims, then the parts the documents leave open. A question for the
    days between two events, asked as the two events' dates, gets the program's count."""
    from assistant.verification import add_day_count, combine

    verified = combine(parts)
    if len(parts) > 1:  # one part was counted by verify_part already
        add_day_count(question, verified)
    if verified.abstained:
        return verified, ABSTAIN
    missing = [q for q, p in zip(questions, parts, strict=True) if p.abstained]
    text = " ".join([verified.text(), *(OPEN_PART.format(q) for q in missing)])
    return verified, text


def _source_spans(ranked: Sequence[Ranked]) -> list[SourceSpan]:
    return [
        SourceSpan(file=h.passage.file, start=h.passage.start, end=h.passage.end) for h in ranked
    ]


class _Read(NamedTuple):
    """A follow-up as the pipeline reads it."""

    checked: str  # what verification checks the answer against
    put: str  # what the model is asked
    search: str  # what retrieval and evidence selection search with


@dataclass
class _Part:
    question: str
    ranked: list[Ranked]
    evidence: list[Evidence]
    generation: Generation
    verified: Verified


def _files(names: list[str]) -> str:
    """ "2 files (a.txt, b.md)": a count and the first few names."""
    shown = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
    return f"{len(names)} file{'' if len(names) == 1 else 's'} ({shown})"
