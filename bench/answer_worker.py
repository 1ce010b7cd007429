"""One side of bench/answer_latency.py: answers questions read from stdin, one JSON per line.

Started with PYTHONPATH set to the checkout under test (this one or an older revision's), so it
only uses what every revision has: `Assistant(Settings(...))`, `ingest()` and `stream()` events
with kinds "token" and "answer". It times the events itself.

    stdin:  {"question": "..."}            stdout: {"total_s": .., "first_token_s": .., ...}
            {"rates": true}                        {"prefill_tok_s": .., "decode_tok_s": ..}
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

started = time.perf_counter()

from assistant import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def answer(assistant: Assistant, question: str) -> dict[str, Any]:
    t = time.perf_counter()
    out: dict[str, Any] = {}
    for event in assistant.stream(question):
        now = time.perf_counter() - t
        if event.kind == "reading":
            out.setdefault("reading_s", now)
        elif event.kind == "token":
            out.setdefault("first_token_s", now)
        elif event.kind == "answer" and event.answer is not None:
            out["total_s"] = now
            out["prompt_tokens"] = event.answer.prompt_tokens
            out["draft"] = getattr(event.answer, "draft", "")
            out["text"] = event.answer.text
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def rates(assistant: Assistant) -> dict[str, float]:
    """llama.cpp's own prefill and decode rates for this model and thread count: 400 tokens of
    a seed read in one pass, then 64 tokens decoded greedily without a grammar."""
    llama = assistant.backend.llm._llama
    text = next(Path(assistant.settings.corpus_dir).glob("*.txt")).read_text()
    tokens = llama.tokenize(text.encode())[:400]
    llama.reset()
    t = time.perf_counter()
    llama.eval(tokens)
    prefill = len(tokens) / (time.perf_counter() - t)
    t = time.perf_counter()
    n = 0
    for _ in llama.generate([], temp=0.0, reset=False):
        n += 1
        if n == 64:
            break
    decode = n / (time.perf_counter() - t)
    llama.reset()
    return {"prefill_tok_s": prefill, "decode_tok_s": decode}


def without_amx_buffers() -> None:
    """Revisions before cbeeefb load llama.cpp's AMX weight buffers on a CPU with AMX, which
    segfault at the first forward pass in this kind of VM; both sides load without them there,
    as the current backends.py does."""
    if " amx_int8" not in Path("/proc/cpuinfo").read_text():
        return
    import llama_cpp.llama_cpp as bindings

    stock = bindings.llama_model_default_params

    def params() -> Any:
        p = stock()
        p.use_extra_bufts = False
        return p

    bindings.llama_model_default_params = params


def main() -> None:
    corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
    without_amx_buffers()
    settings = Settings(corpus_dir=corpus, index_dir=index, backend="embedded")
    assistant = Assistant(settings)
    assistant.ingest()
    # As `make run` does: the model loads in the background while the first question is typed.
    if hasattr(assistant, "start_warm_up"):
        assistant.start_warm_up()
        assistant.ready.wait()
    print(json.dumps({"ready_s": time.perf_counter() - started}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("rates"):
            reply: dict[str, Any] = rates(assistant)
        else:
            reply = answer(assistant, request["question"])
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
