"""LLM backends behind llama-index's LLM interface, chosen by `Settings.backend`.

- embedded: llama.cpp in this process (llama-cpp-python), using the model's own chat template and
  JSON-schema constrained output; the stock llama-index LlamaCPP class formats prompts in Llama-2
  style and ignores schemas, hence this small class.
- ollama: llama-index's `Ollama` class against a local Ollama server.
- auto: Ollama when it answers and has the model, else embedded.

Both take `format=<json schema>` in chat/stream_chat, Ollama's own convention.
"""

from __future__ import annotations

import atexit
import ctypes
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

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
from assistant.weights import MissingWeightsError

T = TypeVar("T")


@dataclass
class Backend:
    llm: LLM
    name: str  # "embedded" or "ollama"
    model: str

    def support_judge(self) -> Callable[[Sequence[tuple[str, str]]], list[float]] | None:
        """The support check, where this backend can read the model's next-token logits (the
        embedded model; a server's API does not give them)."""
        return self.llm.support_scores if isinstance(self.llm, EmbeddedLLM) else None

    def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        """Load the model and read the prompt's constant prefix once, so the first question pays
        only for its own tokens (a server loads and caches on its side)."""
        if isinstance(self.llm, EmbeddedLLM):
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


@lru_cache(maxsize=2)
def _load_llama(path: str, n_ctx: int, threads: int) -> Any:
    from llama_cpp import Llama

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
    return llama


class EmbeddedLLM(CustomLLM):
    model_path: str
    context_window: int = 4096
    max_tokens: int = 384
    threads: int = 2
    _llama: Any = PrivateAttr()

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
            stream = _llama_call(lambda: self._llama.create_chat_completion(stream=True, **request))
            for chunk in _llama_iter(stream):
                delta = chunk["choices"][0]["delta"].get("content") or ""
                text += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                    delta=delta,
                    raw=chunk,
                )

        return gen()

    def support_scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """For each (sentence, statement): the model's log-odds of "yes" over "no" to "Does the
        text say that the statement is true?", read from one forward pass each (no sampling).

        The answer's KV cache is saved before and restored after, so the next question still
        reuses the cached system prompt; the judge prompts share their own prefix."""
        import llama_cpp
        import numpy as np

        llama = self._llama
        ctx = llama._ctx.ctx
        saved_n = llama.n_tokens
        saved_ids = llama.input_ids[:saved_n].copy()
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        saved_kv = (ctypes.c_uint8 * size)()
        llama_cpp.llama_state_seq_get_data(ctx, saved_kv, size, 0)
        yes, no = _answer_tokens(llama)
        scores = []
        try:
            llama.n_tokens = 0
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
        finally:
            llama_cpp.llama_memory_seq_rm(llama._ctx.memory, 0, -1, -1)
            llama_cpp.llama_state_seq_set_data(ctx, saved_kv, size, 0)
            llama.input_ids[:saved_n] = saved_ids
            llama.n_tokens = saved_n
        return scores

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


# The support check: Qwen's chat format, a constant prefix, then the sentence and the statement.
_JUDGE = (
    "<|im_start|>system\nYou check facts. Answer only yes or no.<|im_end|>\n"
    "<|im_start|>user\nText: {text}\nStatement: {statement}\n"
    "Does the text say that the statement is true? Answer yes or no.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def _answer_tokens(llama: Any) -> tuple[list[int], list[int]]:
    first = [llama.tokenize(w.encode(), add_bos=False)[0] for w in ("yes", "Yes", "no", "No")]
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


def resolve_embedded_model(settings: Settings) -> Path:
    """A model file from the settings: a name in the cache, a path, or `ollama:NAME`."""
    from assistant.weights import ALL_WEIGHTS, require

    name = settings.embedded_model
    if name.startswith("ollama:"):
        return ollama_store_model(settings.ollama_models_dir, name.removeprefix("ollama:"))
    for weight in ALL_WEIGHTS:
        if weight.name == name:
            return require(weight, settings.model_dir)
    path = Path(name).expanduser()
    if not path.is_file():
        raise MissingWeightsError(
            f"The model file {path} does not exist; set ASSISTANT_EMBEDDED_MODEL to a GGUF file "
            "or run `make setup` for the default model."
        )
    return path


def ollama_store_model(store: Path, name: str) -> Path:
    """The GGUF blob of a model pulled with Ollama, found through its manifest (no server)."""
    model, _, tag = name.partition(":")
    parts = model.split("/")
    host, namespace = "registry.ollama.ai", "library"
    if len(parts) == 3:
        host, namespace, model = parts
    elif len(parts) == 2:
        namespace, model = parts
    manifest_path = store / "manifests" / host / namespace / model / (tag or "latest")
    hint = f"run `ollama pull {name}` or check ASSISTANT_OLLAMA_MODELS_DIR ({store})"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(f"Ollama's store has no model '{name}'; {hint}.") from exc
    layers = [
        x
        for x in manifest.get("layers", [])
        if x.get("mediaType") == "application/vnd.ollama.image.model"
    ]
    if not layers:
        raise MissingWeightsError(f"Ollama's manifest for '{name}' names no model layer; {hint}.")
    blob = store / "blobs" / layers[0]["digest"].replace(":", "-")
    try:
        with blob.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise MissingWeightsError(
            f"The weights of '{name}' are missing from Ollama's store; {hint}."
        ) from exc
    if magic != b"GGUF":
        raise MissingWeightsError(
            f"The Ollama model '{name}' is not a GGUF file (perhaps safetensors); llama.cpp "
            "cannot open it, so use the `ollama` backend for it."
        )
    return blob


def embedded_backend(settings: Settings) -> Backend:
    path = resolve_embedded_model(settings)
    llm = EmbeddedLLM(
        model_path=str(path),
        context_window=settings.context_window,
        max_tokens=settings.max_answer_tokens,
        threads=settings.threads,
    )
    label = settings.embedded_model if settings.embedded_model.startswith("ollama:") else path.name
    return Backend(llm=llm, name="embedded", model=label)


# -- Ollama ------------------------------------------------------------------------------------


def ollama_client(settings: Settings) -> Any:
    import ollama

    client = ollama.Client(host=settings.ollama_host, timeout=settings.ollama_timeout_s)
    client.host_label = settings.ollama_host  # type: ignore[attr-defined]
    return client


def ollama_call(fn: Callable[[], T], client: Any, model: str) -> T:
    with ollama_errors(getattr(client, "host_label", "the Ollama host"), model):
        return fn()


@contextmanager
def ollama_errors(host: str, model: str) -> Iterator[None]:
    """Turn an Ollama request's failures into one sentence that says what to do."""
    import httpx
    import ollama

    try:
        yield
    except ollama.ResponseError as exc:
        if (other := not_ollama(host)) is not None:
            raise BackendUnavailableError(other) from exc
        if exc.status_code == 404 or "not found" in str(exc.error).lower():
            raise BackendUnavailableError(
                f"Ollama at {host} has no model '{model}'; run `ollama pull {model}`."
            ) from exc
        said = " ".join(str(exc.error).split())[:200]
        raise BackendUnavailableError(f"Ollama at {host} answered with an error: {said}.") from exc
    except json.JSONDecodeError as exc:  # a reply that is not Ollama's JSON lines
        raise BackendUnavailableError(
            not_ollama(host)
            or f"Ollama at {host} sent a reply that is not JSON; check the server's log."
        ) from exc
    except httpx.TimeoutException as exc:
        raise BackendUnavailableError(
            f"Ollama at {host} did not answer in time; raise ASSISTANT_OLLAMA_TIMEOUT_S "
            "or use a smaller model."
        ) from exc
    except (ConnectionError, httpx.ConnectError) as exc:
        raise BackendUnavailableError(
            f"No Ollama server answers at {host}; start it with `ollama serve` "
            "(or set ASSISTANT_BACKEND=embedded)."
        ) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise BackendUnavailableError(
            f"The connection to Ollama at {host} broke off mid-answer; check the server's log "
            "and ask again."
        ) from exc


def not_ollama(host: str) -> str | None:
    """Why the server at `host` is not Ollama, asked at /api/version (Ollama answers JSON with
    a version), or None when it is Ollama or cannot be asked. The page it sent is never shown."""
    import httpx

    url = host if "://" in host else f"http://{host}"
    try:
        reply = httpx.get(url.rstrip("/") + "/api/version", timeout=5.0)
    except httpx.HTTPError:
        return None
    try:
        is_ollama = reply.status_code == 200 and "version" in reply.json()
    except (ValueError, TypeError):
        is_ollama = False
    if is_ollama:
        return None
    kind = reply.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    return (
        f"{host} answered, but it is not an Ollama server (HTTP {reply.status_code}, {kind}); "
        "check ASSISTANT_OLLAMA_HOST."
    )


def backend_errors(backend: Backend) -> AbstractContextManager[None]:
    if backend.name == "ollama":
        return ollama_errors(getattr(backend.llm, "base_url", "the Ollama host"), backend.model)
    return nullcontext()


def ollama_has_model(settings: Settings) -> bool:
    """Does a server answer at the host, with the model pulled? Quick: used by `auto`."""
    import ollama

    try:
        client = ollama.Client(host=settings.ollama_host, timeout=2.0)
        names = {m.model for m in client.list().models}
    except Exception:  # any failure means "not usable now"; auto falls back to embedded
        return False
    wanted = settings.ollama_model
    return wanted in names or f"{wanted}:latest" in names


def ollama_backend(settings: Settings) -> Backend:
    from llama_index.llms.ollama import Ollama

    llm = Ollama(
        model=settings.ollama_model,
        base_url=settings.ollama_host,
        request_timeout=settings.ollama_timeout_s,
        temperature=0.0,
        context_window=settings.context_window,
        keep_alive=settings.ollama_keep_alive,
        additional_kwargs={"num_predict": settings.max_answer_tokens, "seed": 0},
    )
    return Backend(llm=llm, name="ollama", model=settings.ollama_model)


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "ollama":
        return ollama_backend(settings)
    if settings.backend == "auto" and ollama_has_model(settings):
        return ollama_backend(settings)
    return embedded_backend(settings)
