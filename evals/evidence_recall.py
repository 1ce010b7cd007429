"""Retrieval and evidence recall of each split without the model, in seconds.

    .venv/bin/python evals/evidence_recall.py [--split dev] [--tokens 200] [--sentences N]

Does a labelled support span reach the retrieved passages, and the evidence sentences the model
would be shown? The same retrieval and evidence selection as an answer, no generation. For the
held-out splits it prints totals only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant import Assistant, retrieval  # noqa: E402
from assistant import evidence as selection  # noqa: E402
from assistant.evaluation import find_quote, load_cases  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from evals.splits import SPLITS  # noqa: E402


def overlaps(spans: list[tuple[str, int, int]], file: str, a: int, b: int) -> bool:
    return any(f == file and s < b and a < e for f, s, e in spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", action="append", choices=list(SPLITS))
    parser.add_argument("--tokens", type=int, default=None, help="evidence token budget")
    parser.add_argument("--sentences", type=int, default=None, help="evidence sentence limit")
    parser.add_argument(
        "--no-top-hits",
        action="store_true",
        help="plain fusion: no retriever's best passage kept (retrieval.KEEP_TOP_HITS)",
    )
    parser.add_argument(
        "--ablate", action="append", default=[], help="an evidence mechanism to switch off"
    )
    args = parser.parse_args()
    retrieval.KEEP_TOP_HITS = not args.no_top_hits
    selection.ABLATED.update(args.ablate)
    assistants: dict[str, Assistant] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.split or list(SPLITS):
            split = SPLITS[name]
            if split.corpus not in assistants:
                root = Path(tmp) / split.corpus
                a = Assistant(
                    Settings(
                        corpus_dir=split.copy_corpus(root / "corpus"), index_dir=root / "index"
                    )
                )
                a.ingest()
                assistants[split.corpus] = a
            a = assistants[split.corpus]
            s = a.settings
            tokens = args.tokens or s.evidence_tokens
            limit = args.sentences or s.evidence_sentences
            found_r = found_e = total = 0
            sizes = []
            misses = []
            for case in load_cases(split.cases):
                if not case.answerable:
                    continue
                query = (
                    f"{case.history[-1].question} {case.question}"
                    if case.history
                    else case.question
                )
                ranked = a.retriever().retrieve(query, s.top_k)
                evidence = selection.select_evidence(query, ranked, a.encoder, limit, tokens)
                sizes.append(sum(a.encoder.count_tokens([e.text for e in evidence])))
                support = [
                    (sup.file, x, y)
                    for sup in case.support
                    for x, y in find_quote(a.document_text(sup.file), sup.quote)
                ]
                total += 1
                in_r = any(
                    overlaps(support, h.passage.file, h.passage.start, h.passage.end)
                    for h in ranked
                )
                in_e = any(overlaps(support, e.file, e.start, e.end) for e in evidence)
                found_r += in_r
                found_e += in_e
                if not in_e:
                    misses.append(case.id)
            print(
                f"{name}: retrieval recall {found_r / total:.1%}, evidence recall "
                f"{found_e / total:.1%} ({total} answerable; budget {tokens} tokens, "
                f"{limit} sentences; mean evidence {sum(sizes) / len(sizes):.0f} tokens)"
            )
            if name == "dev":
                print("  dev misses:", " ".join(misses))


if __name__ == "__main__":
    main()
