"""The one contract between the pipeline and a language model, and the choice of backend.

`Backend` holds a llama-index LLM and says how the pipeline uses it: count a prompt's tokens,
stream a JSON draft, give a short plain reply, turn failures into one sentence, judge support,
warm up. Each kind overrides what it does differently, and `make_backend` is the only place
that chooses by kind:

- embedded: llama.cpp in this process (llama-cpp-python), using the model's own chat template and
  JSON-schema constrained output; the stock llama-index LlamaCPP class formats prompts in Llama-2
  style and ignores schemas, hence the small class below.
- ollama: llama-index's `Ollama` class against a local Ollama server (ollama_backend.py).
- openai: llama-index's `OpenAILike` class against any OpenAI-compatible server, such as
  llama.cpp's llama-server, LM Studio or vLLM (openai_backend.py).
- auto: a configured OpenAI-compatible server that answers, else Ollama when it answers and has
  the model, else embedded.
"""

from __future__ import annotations

import atexit
import ctypes
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM
from pydantic import PrivateAttr

from assistant.errors import BackendUnavailableError
from assistant.settings import Settings
from assistant.weights import resolve_embedded_model

T = TypeVar("T")
Judge = Callable[[Sequence[tuple[str, str]]], list[float]]  # (sentence, statement) -> log-odds


class Draft(NamedTuple):
    text: str  # the JSON written so far
    prompt_tokens: int  # as the model counted them, or 0 when it does not say


@dataclass
class Backend:
    """Any llama-index LLM that takes Ollama's `format=<json schema>` convention (the tests'
    scripted model); the kinds below override what they do differently."""

    llm: LLM
    name: str  # "embedded", "ollama", "openai" (or a test's own)
    model: str

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(_joined(messages)) // 3  # a safe over-estimate for an unknown tokenizer

    def errors(self) -> AbstractContextManager[None]:
        """Turns this backend's failures into a BackendUnavailableError of one sentence."""
        return nullcontext()

    def stream_draft(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any]
    ) -> Iterator[Draft]:
        """The JSON answer as it grows, constrained to `schema` where the backend can."""
        with self.errors():
            for chunk in self.llm.stream_chat(messages, format=schema):
                yield Draft(chunk.message.content or "", 0)

    def reply(self, messages: Sequence[ChatMessage], max_tokens: int) -> str:
        """A short plain-text reply (a follow-up written out), greedy; its first line."""
        with self.errors():
            text = self.llm.chat(messages, temperature=0.0, max_tokens=max_tokens).message.content
        return (text or "").strip().split("\n")[0]

    def support_judge(self) -> Judge | None:
        """The support check, where this backend can read the model's next-token scores."""
        return None

    def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        """Load the model and read the prompt's constant prefix once, so the first question pays
        only for its own tokens (a server loads and caches on its side)."""


def _joined(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content or "" for m in messages)


@dataclass
class EmbeddedBackend(Backend):
    llm: EmbeddedLLM

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.llm.count_tokens(_joined(messages)) + 10 * len(messages)  # + chat template

    def reply(self, messages: Sequence[ChatMessage], max_tokens: int) -> str:
        with self.llm.cache_kept():  # the answer after it still finds its system prompt cached
            return super().reply(messages, max_tokens)

    def support_judge(self) -> Judge | None:
        return self.llm.support_scores  # reads the logits of the model in this process

    def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        self.llm.chat(messages, max_tokens=1)


# -- embedded llama.cpp ------------------------------------------------------------------------


class _GreedyFirstGrammar:
    """Greedy decoding under a grammar that asks the grammar about the best token first.

    llama-cpp-python's sampler chain runs the grammar over all 151k vocabulary entries at every
    step (about 30 ms a token here). At temperature 0 the answer is the best token the grammar
    allows, so checking the best token alone, and the whole vocabulary only when the grammar
    refuses it, picks the same token (llama.cpp's own common sampler does the same)."""

    def __init__(self, vocab: Any, grammar: Any, n_vocab: int) -> None:
        import llama_cpp
        import numpy as np

        self._lib = llama_cpp
        self._n_vocab = n_vocab
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode(), grammar._root.encode()
        )
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = (llama_cpp.llama_token_data * n_vocab)()
        self._one_view = np.ctypeslib.as_array(self._one)
        self._all_view = np.ctypeslib.as_array(self._all)
        self._all_view["id"] = np.arange(n_vocab, dtype=np.int32)

    def _apply(self, data: Any, size: int) -> None:
        array = self._lib.llama_token_data_array(
            data=ctypes.cast(data, self._lib.llama_token_data_p),
            size=size,
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(self._grammar, ctypes.byref(array))

    def sample(self, ctx: Any, idx: int) -> int:
        import numpy as np

        logits = np.ctypeslib.as_array(
            self._lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,)
        )
        token = int(np.argmax(logits))
        self._one_view[0] = (token, logits[token], 0.0)
        self._apply(self._one, 1)
        if self._one_view[0]["logit"] == float("-inf"):  # refused: take the best one allowed
            self._all_view["logit"] = logits
            self._all_view["p"] = 0.0
            self._apply(self._all, self._n_vocab)
            token = int(np.argmax(self._all_view["logit"]))
        self._lib.llama_sampler_accept(self._grammar, token)
        return token

    def __del__(self) -> None:
        self._lib.llama_sampler_free(self._grammar)


def _greedy_first(llama: Any) -> None:
    """Route greedy, penalty-free, grammar-constrained sampling through _GreedyFirstGrammar;
    any other request keeps llama-cpp-python's own sampler chain."""
    stock = llama._init_sampler

    def init_sampler(**kw: Any) -> Any:
        plain = (
            kw.get("temp") == 0.0
            and kw.get("repeat_penalty", 1.0) == 1.0
            and not kw.get("frequency_penalty")
            and not kw.get("presence_penalty")
            and kw.get("logits_processor") is None
        )
        if plain and kw.get("grammar") is not None and GREEDY_FIRST:
            return _GreedyFirstGrammar(llama._model.vocab, kw["grammar"], llama.n_vocab())
        return stock(**kw)

    llama._init_sampler = init_sampler


GREEDY_FIRST = True

# Lookahead decoding of the draft's JSON structure (LOOKAHEAD): after a statement's closing
# quote the model writes `", "evidence": [`, after its ids `]}]}`, token by token, each a full
# decode step (~13 of a draft's ~39 tokens). These tokens are proposed in advance and read in
# one batch, at prompt-reading speed; the sampler keeps each only if it would have chosen it
# itself (llama-cpp-python's speculative decoding loop), so the draft is the greedy one up to
# the batch's rounding (a near tie can go the other way: README).
LOOKAHEAD = True
_MAX_BATCH = 24  # a longer eval is a prompt: only its last position's logits are read
_OPENING = '{"claims": [{"statement": "'
# (what comes next, the text it must follow): the end of a statement, of the last claim's ids,
# of a claim before another
_SKELETONS = (
    ('", "evidence": [', re.compile(r'"statement": "(?:[^"\\]|\\.)*$')),
    ("]}]}", re.compile(r'"evidence": \[[\d,\s]*\d\s*$')),
    ('}, {"statement": "', re.compile(r'"evidence": \[[\d,\s]*\]\s*$')),
)


def json_lookahead(text: str) -> str:
    """The JSON structure that most likely comes next in a draft written so far as `text`; ""
    inside a statement or the evidence ids, which only the model can write."""
    if _OPENING.startswith(text):
        return _OPENING[len(text) :]
    for skeleton, follows in _SKELETONS:
        for k in range(min(len(skeleton) - 1, len(text)), 0, -1):
            if text.endswith(skeleton[:k]) and follows.search(text[: len(text) - k]):
                return skeleton[k:]
    return ""


class _JsonLookahead:
    """A "draft model" for llama-cpp-python's speculative loop that proposes json_lookahead's
    tokens for the reply written since the last `<|im_start|>assistant` line."""

    def __init__(self, llama: Any) -> None:
        import numpy as np

        self._llama = llama
        self._np = np
        self._reply_starts = llama.tokenize(b"<|im_start|>assistant\n", add_bos=False, special=True)

    def __call__(self, input_ids: Any, /, **kwargs: Any) -> Any:
        ids = [int(i) for i in input_ids]
        opener = self._reply_starts
        start = next(
            (
                i + len(opener)
                for i in range(len(ids) - len(opener), -1, -1)
                if ids[i : i + len(opener)] == opener
            ),
            None,
        )
        if start is None:
            return self._np.array([], dtype=self._np.intc)
        text = self._llama.detokenize(ids[start:]).decode("utf-8", errors="ignore")
        ahead = json_lookahead(text)
        tokens = self._llama.tokenize(ahead.encode(), add_bos=False) if ahead else []
        return self._np.array(tokens, dtype=self._np.intc)


def _read_proposals(llama: Any) -> None:
    """llama-cpp-python keeps logits for every position only with `logits_all`, which holds
    them for the whole context (4,096 x 151,936 floats, 2.5 GB): here only a short batch
    (the sampled token and the proposals after it) asks for the logits of every position."""
    stock = llama.eval

    def eval(tokens: Sequence[int]) -> None:
        if llama.draft_model is None or len(tokens) > _MAX_BATCH:
            stock(tokens)
            return
        n_past = llama.n_tokens
        llama._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llama._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
        llama._ctx.decode(llama._batch)
        llama.input_ids[n_past : n_past + len(tokens)] = tokens
        llama.n_tokens += len(tokens)
        llama._requires_eval = False  # the logits are a live decode's, as after the stock eval

    llama.eval = eval


def _cpu_has_amx() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_int8" in flags


@contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """llama.cpp's weight repacking buffers off for the models loaded inside.

    On a CPU that reports AMX (Xeon Sapphire Rapids and later), a native build puts the
    weights in llama.cpp's AMX buffers, and the first forward pass segfaults in this kind of
    virtual machine. Llama() takes no switch for it, so its default parameters are wrapped for
    the duration of the load. Measured on such a machine: prefill 146 tok/s without them."""
    import llama_cpp.llama_cpp as bindings  # the module Llama() calls

    stock = bindings.llama_model_default_params

    def params() -> Any:
        p = stock()
        p.use_extra_bufts = False
        return p

    bindings.llama_model_default_params = params
    try:
        yield
    finally:
        bindings.llama_model_default_params = stock


def amx_safe_loading() -> AbstractContextManager[None]:
    """Where llama.cpp models must be loaded from (any Llama() of this project, the tests'
    Ollama server's too): without the extra buffers on a CPU with AMX, else as they are."""
    return _without_extra_buffers() if _cpu_has_amx() else nullcontext()


@lru_cache(maxsize=2)
def _load_llama(path: str, n_ctx: int, threads: int) -> Any:
    from llama_cpp import Llama

    with amx_safe_loading():
        llama = Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
        )
    # Freed before interpreter shutdown: later, llama_cpp's own globals may be gone already
    # and its destructor prints a TypeError.
    atexit.register(llama.close)
    _greedy_first(llama)
    _read_proposals(llama)
    return llama


class EmbeddedLLM(CustomLLM):
    model_path: str
    context_window: int = 4096
    max_tokens: int = 384
    threads: int = 2
    _llama: Any = PrivateAttr()
    _judge_prefix: tuple[list[int], Any] | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._llama = _load_llama(self.model_path, self.context_window, self.threads)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=Path(self.model_path).name,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": [{"role": m.role.value, "content": m.content or ""} for m in messages],
            "temperature": kwargs.get("temperature", 0.0),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "seed": 0,
        }
        schema = kwargs.get("format")
        if isinstance(schema, dict):
            request["response_format"] = {"type": "json_object", "schema": schema}
        elif schema == "json":
            request["response_format"] = {"type": "json_object"}
        return request

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        out = _llama_call(
            lambda: self._llama.create_chat_completion(**self._request(messages, kwargs))
        )
        text = out["choices"][0]["message"]["content"] or ""
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
            raw=out,
            additional_kwargs={"usage": out.get("usage", {})},
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        request = self._request(messages, kwargs)

        def gen() -> ChatResponseGen:
            text = ""
            llama = self._llama
            if LOOKAHEAD and "response_format" in request:  # a JSON draft
                llama.draft_model = _JsonLookahead(llama)
            try:
                stream = _llama_call(lambda: llama.create_chat_completion(stream=True, **request))
                for chunk in _llama_iter(stream):
                    delta = chunk["choices"][0]["delta"].get("content") or ""
                    text += delta
                    yield ChatResponse(
                        message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                        delta=delta,
                        raw=chunk,
                    )
            finally:
                llama.draft_model = None

        return gen()

    def support_scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """For each (sentence, statement): the model's log-odds of "yes" over "no" to "Does the
        text say that the statement is true?", read from one forward pass each (no sampling).

        The answer's KV cache is saved before and restored after, so the next question still
        reuses the cached system prompt; the judge prompts share their own prefix."""
        import numpy as np

        llama = self._llama
        yes, no = _answer_tokens(llama)
        scores = []
        with self.cache_kept():
            self._restore_judge_prefix()
            for sentence, statement in pairs:
                tokens = llama.tokenize(
                    _JUDGE.format(text=sentence, statement=statement).encode(),
                    add_bos=False,
                    special=True,
                )
                shared = _common_prefix(llama.input_ids[: llama.n_tokens], tokens)
                llama.n_tokens = min(shared, len(tokens) - 1)  # re-read at least one token
                llama.eval(tokens[llama.n_tokens :])
                logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))
                scores.append(
                    float(np.logaddexp.reduce(logits[yes]) - np.logaddexp.reduce(logits[no]))
                )
        return scores

    @contextmanager
    def cache_kept(self) -> Iterator[None]:
        """The KV cache as it was before the calls inside: a side question (the support check,
        a follow-up written out) does not evict the answers' cached system prompt."""
        import llama_cpp

        llama = self._llama
        ctx = llama._ctx.ctx
        saved_n = llama.n_tokens
        saved_ids = llama.input_ids[:saved_n].copy()
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        saved_kv = (ctypes.c_uint8 * size)()
        llama_cpp.llama_state_seq_get_data(ctx, saved_kv, size, 0)
        try:
            yield
        finally:
            llama_cpp.llama_memory_seq_rm(llama._ctx.memory, 0, -1, -1)
            llama_cpp.llama_state_seq_set_data(ctx, saved_kv, size, 0)
            llama.input_ids[:saved_n] = saved_ids
            llama.n_tokens = saved_n

    def _restore_judge_prefix(self) -> None:
        """The KV cache holding only the judge prompt's constant part (its system turn, up to
        "Text:"), read once and kept as a saved state: each question's first support check
        then reads only its sentence and statement (~25 tokens fewer, 0.2-0.8 s on 2 cores)."""
        import llama_cpp

        llama = self._llama
        ctx = llama._ctx.ctx
        llama_cpp.llama_memory_seq_rm(llama._ctx.memory, 0, -1, -1)
        llama.n_tokens = 0
        if self._judge_prefix is None:
            constant = _JUDGE[: _JUDGE.index("{text}")].rstrip()
            tokens = llama.tokenize(constant.encode(), add_bos=False, special=True)
            llama.eval(tokens)
            size = llama_cpp.llama_state_seq_get_size(ctx, 0)
            state = (ctypes.c_uint8 * size)()
            llama_cpp.llama_state_seq_get_data(ctx, state, size, 0)
            self._judge_prefix = (tokens, state)
            return
        tokens, state = self._judge_prefix
        llama_cpp.llama_state_seq_set_data(ctx, state, len(state), 0)
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self.chat([ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs)
        return CompletionResponse(text=response.message.content or "", raw=response.raw)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            for r in self.stream_chat(
                [ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs
            ):
                yield CompletionResponse(text=r.message.content or "", delta=r.delta, raw=r.raw)

        return gen()


# The support check's question, one forward pass per claim: the log-odds of the first token
# being "yes" over "no". A constant prefix, then the sentence and the statement.
JUDGE_SYSTEM = "You check facts. Answer only yes or no."
JUDGE_USER = (
    "Text: {text}\nStatement: {statement}\n"
    "Does the text say that the statement is true? Answer yes or no."
)
YES, NO = ("yes", "Yes"), ("no", "No")
# The same, in Qwen's chat format, for the embedded model read token by token.
_JUDGE = (
    f"<|im_start|>system\n{JUDGE_SYSTEM}<|im_end|>\n<|im_start|>user\n{JUDGE_USER}<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def _answer_tokens(llama: Any) -> tuple[list[int], list[int]]:
    first = [llama.tokenize(w.encode(), add_bos=False)[0] for w in (*YES, *NO)]
    return first[:2], first[2:]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _llama_call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except ValueError as exc:
        if "context window" in str(exc) or "exceed" in str(exc):
            raise BackendUnavailableError(
                f"The prompt does not fit the model's context window ({exc}); raise "
                "ASSISTANT_CONTEXT_WINDOW or lower ASSISTANT_EVIDENCE_SENTENCES."
            ) from exc
        raise


def _llama_iter(stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    while True:
        try:
            chunk = _llama_call(lambda: next(stream))
        except StopIteration:
            return
        yield chunk


def embedded_backend(settings: Settings) -> EmbeddedBackend:
    path = resolve_embedded_model(settings)
    llm = EmbeddedLLM(
        model_path=str(path),
        context_window=settings.context_window,
        max_tokens=settings.max_answer_tokens,
        threads=settings.threads,
    )
    label = settings.embedded_model if settings.embedded_model.startswith("ollama:") else path.name
    return EmbeddedBackend(llm=llm, name="embedded", model=label)


def make_backend(settings: Settings) -> Backend:
    from assistant.ollama_backend import ollama_backend, ollama_has_model
    from assistant.openai_backend import openai_answers, openai_backend

    if settings.backend == "openai":
        return openai_backend(settings)
    if settings.backend == "ollama":
        return ollama_backend(settings)
    if settings.backend == "auto":
        if settings.openai_base_url is not None and openai_answers(settings):
            return openai_backend(settings)
        if ollama_has_model(settings):
            return ollama_backend(settings)
    return embedded_backend(settings)
