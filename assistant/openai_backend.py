"""The OpenAI-compatible backend: llama-index's `OpenAILike` class against a local server that
speaks the chat-completions protocol (llama.cpp's llama-server or llama_cpp.server, LM Studio,
vLLM, LocalAI).

The server is asked for its models once, when the backend is made: that one request tells a
missing server, a refused key, a page that is not such a server, and an unknown model apart,
each in one sentence, before a question is spent on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from assistant.backends import JUDGE_SYSTEM, JUDGE_USER, NO, YES, Backend, Draft, Judge
from assistant.errors import BackendUnavailableError
from assistant.settings import Settings

# Local servers mostly ignore the key, but the client must send one; this is llama.cpp's own
# placeholder. Passing it also keeps the client from falling back to OPENAI_API_KEY.
NO_KEY = "sk-no-key-required"

# How to ask for JSON that follows a schema, in the order tried: OpenAI's own `json_schema`
# (llama-server, vLLM, LM Studio), then llama.cpp's `json_object` + `schema` (llama_cpp.server
# refuses the first). After both are refused the prompt alone asks for JSON and
# generation.parse_claims keeps what it can.
TOP_LOGPROBS = 20  # OpenAI's most; enough to hold both yes and no

ResponseFormat = Callable[[dict[str, Any]], dict[str, Any]]
FORMATS: tuple[ResponseFormat, ...] = (
    lambda schema: {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    lambda schema: {"type": "json_object", "schema": schema},
)


@dataclass
class OpenAIBackend(Backend):
    base_url: str = ""
    max_tokens: int = 384
    formats: list[ResponseFormat] = field(default_factory=lambda: list(FORMATS))
    judges: bool | None = None  # does the server give token log-probabilities? asked once

    def errors(self) -> AbstractContextManager[None]:
        return openai_errors(self.base_url, self.model)

    def stream_draft(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any]
    ) -> Iterator[Draft]:
        import openai

        while True:
            kwargs: dict[str, Any] = {
                "max_tokens": self.max_tokens,
                "stream_options": {"include_usage": True},  # prompt tokens, where supported
            }
            if self.formats:
                kwargs["response_format"] = self.formats[0](schema)
            try:
                with self.errors():
                    text = ""
                    for chunk in self.llm.stream_chat(messages, **kwargs):
                        text = chunk.message.content or ""
                        usage = getattr(chunk.raw, "usage", None)
                        yield Draft(text, getattr(usage, "prompt_tokens", 0))
                    if not text:
                        self._why_empty(messages)
                return
            except BackendUnavailableError as exc:
                refused = exc.__cause__
                # a 400 or 422, or a 500 from llama_cpp.server, whose message names the field
                if not (
                    self.formats
                    and isinstance(refused, openai.APIStatusError)
                    and "response_format" in str(refused)
                ):
                    raise
                self.formats.pop(0)  # refused before any text: ask again the next way

    def _why_empty(self, messages: Sequence[ChatMessage]) -> None:
        """A stream that ended before any text is never an answer: llama_cpp.server, for one,
        sends an empty stream when the prompt exceeds its context. Asked again without
        streaming (one token), the server says why, and errors() turns that into the sentence.
        That server also drops the connection after such a stream, so a first failure to connect
        is the old connection, and the question is asked once more on a new one."""
        import openai

        try:
            self.llm.chat(messages, max_tokens=1)
        except openai.APIConnectionError as exc:
            if isinstance(exc, openai.APITimeoutError):
                raise
            self.llm.chat(messages, max_tokens=1)
        raise BackendUnavailableError(
            f"The server at {self.base_url} ended its answer before writing anything; check "
            "the server's log."
        )

    def support_judge(self) -> Judge | None:
        """The embedded model's support check, from the server's top log-probabilities of the
        first answer token (llama-server, llama_cpp.server and vLLM give them), else None."""
        import openai

        if self.judges is None:
            try:
                self.judges = self._yes_odds("The sky is blue.", "The sky is blue.") is not None
            except BackendUnavailableError as exc:
                if not isinstance(exc.__cause__, openai.BadRequestError):
                    raise
                self.judges = False  # the server refuses the logprobs parameters
        return self._support_scores if self.judges else None

    def _support_scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [self._yes_odds(sentence, statement) or 0.0 for sentence, statement in pairs]

    def _yes_odds(self, text: str, statement: str) -> float | None:
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=JUDGE_SYSTEM),
            ChatMessage(
                role=MessageRole.USER, content=JUDGE_USER.format(text=text, statement=statement)
            ),
        ]
        with self.errors():
            reply = self.llm.chat(messages, max_tokens=1, logprobs=True, top_logprobs=TOP_LOGPROBS)
        if not reply.logprobs or not reply.logprobs[0]:
            return None
        top = {p.token: p.logprob for p in reply.logprobs[0]}
        # A word missing from the top list is at most as likely as the least likely one in it.
        floor = min(top.values())
        yes = np.logaddexp.reduce([top.get(w, floor) for w in YES])
        no = np.logaddexp.reduce([top.get(w, floor) for w in NO])
        return float(yes - no)

    def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        with self.errors():
            self.llm.chat(messages, max_tokens=1)  # the server caches the system prompt


def api_key(settings: Settings) -> str:
    if settings.openai_api_key is not None:
        return settings.openai_api_key.get_secret_value()
    path = settings.openai_api_key_file
    if path is None:
        return NO_KEY
    try:
        return path.expanduser().read_text().strip()
    except OSError as exc:
        raise BackendUnavailableError(
            f"The API key file {path} cannot be read ({exc.strerror}); check "
            "ASSISTANT_OPENAI_API_KEY_FILE."
        ) from None


def need_url(settings: Settings, what: str) -> str:
    if settings.openai_base_url is None:
        raise BackendUnavailableError(
            f"{what} needs the server's URL: set ASSISTANT_OPENAI_BASE_URL (for example "
            "http://127.0.0.1:8080/v1)."
        )
    return settings.openai_base_url


def server_models(base_url: str, key: str, timeout: float) -> list[str]:
    """The model names the server lists at /models, or one sentence saying why it cannot be
    used. The page a server that is not OpenAI-compatible sent is never shown."""
    import httpx

    try:
        reply = httpx.get(
            base_url.rstrip("/") + "/models",
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise BackendUnavailableError(_timeout(base_url)) from None
    except httpx.HTTPError:
        raise BackendUnavailableError(_no_server(base_url)) from None
    if reply.status_code in (401, 403):
        raise BackendUnavailableError(_bad_key(base_url, reply.status_code))
    try:
        models = [str(m["id"]) for m in reply.json()["data"]]
        reply.raise_for_status()
    except (ValueError, KeyError, TypeError, httpx.HTTPStatusError):
        raise BackendUnavailableError(_not_openai(base_url, reply)) from None
    return models


def openai_answers(settings: Settings) -> bool:
    """Does the configured server answer, with the model? Quick: used by `auto`."""
    if settings.openai_base_url is None:
        return False
    try:
        models = server_models(settings.openai_base_url, api_key(settings), timeout=2.0)
    except BackendUnavailableError:
        return False
    return bool(models) and (settings.openai_model is None or settings.openai_model in models)


def openai_backend(settings: Settings) -> OpenAIBackend:
    from llama_index.llms.openai_like import OpenAILike

    url = need_url(settings, "ASSISTANT_BACKEND=openai")
    key = api_key(settings)
    models = server_models(url, key, timeout=min(settings.openai_timeout_s, 10.0))
    model = settings.openai_model or (models[0] if models else "")
    if model not in models:
        served = ", ".join(f"'{m}'" for m in models[:3]) or "none"
        raise BackendUnavailableError(
            f"The server at {url} has no model '{model}' (it serves {served}); set "
            "ASSISTANT_OPENAI_MODEL to one it serves."
        )
    llm = OpenAILike(
        model=model,
        api_base=url,
        api_key=key,
        is_chat_model=True,
        context_window=settings.context_window,
        temperature=0.0,
        timeout=settings.openai_timeout_s,
        max_retries=0,  # a retry would only double the wait for one sentence
        # llama_cpp.server and LM Studio penalise repeated tokens by default (1.1), which makes
        # the model cite fewer evidence ids and alter copied words; the embedded model does not.
        # Servers that do not know the field ignore it.
        additional_kwargs={"seed": 0, "extra_body": {"repeat_penalty": 1.0}},
    )
    return OpenAIBackend(
        llm=llm, name="openai", model=model, base_url=url, max_tokens=settings.max_answer_tokens
    )


@contextmanager
def openai_errors(url: str, model: str) -> Iterator[None]:
    """Turn a request's failures into one sentence that says what to do."""
    import httpx
    import openai

    try:
        yield
    except (openai.APITimeoutError, httpx.TimeoutException) as exc:
        raise BackendUnavailableError(_timeout(url)) from exc
    except (openai.APIConnectionError, httpx.ConnectError) as exc:
        raise BackendUnavailableError(_no_server(url)) from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise BackendUnavailableError(_bad_key(url, exc.status_code)) from exc
    except openai.APIStatusError as exc:
        if "json" not in exc.response.headers.get("content-type", ""):
            raise BackendUnavailableError(_not_openai(url, exc.response)) from exc
        said = " ".join(exc.message.split())[:200]
        if exc.status_code == 404 and "model" in said.lower():
            raise BackendUnavailableError(
                f"The server at {url} has no model '{model}'; set ASSISTANT_OPENAI_MODEL to "
                "one it serves."
            ) from exc
        if exc.status_code == 400 and "context" in said.lower():
            raise BackendUnavailableError(
                f"The prompt is longer than the server at {url} allows (its context size); "
                "start the server with a larger context or lower ASSISTANT_EVIDENCE_TOKENS."
            ) from exc
        raise BackendUnavailableError(
            f"The server at {url} answered with an error (HTTP {exc.status_code}): {said}."
        ) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise BackendUnavailableError(
            f"The connection to the server at {url} broke off mid-answer; check the server's "
            "log and ask again."
        ) from exc


def _timeout(url: str) -> str:
    return (
        f"The server at {url} did not answer in time; raise ASSISTANT_OPENAI_TIMEOUT_S or use a "
        "smaller model."
    )


def _no_server(url: str) -> str:
    return (
        f"No server answers at {url}; start your OpenAI-compatible server (for example "
        "`python -m llama_cpp.server --model FILE`) or check ASSISTANT_OPENAI_BASE_URL."
    )


def _bad_key(url: str, status: int) -> str:
    return (
        f"The server at {url} refused the API key (HTTP {status}); set ASSISTANT_OPENAI_API_KEY "
        "or ASSISTANT_OPENAI_API_KEY_FILE to the server's key."
    )


def _not_openai(url: str, reply: Any) -> str:
    kind = reply.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    return (
        f"{url} answered, but it is not an OpenAI-compatible API (HTTP {reply.status_code}, "
        f"{kind}); check ASSISTANT_OPENAI_BASE_URL (it usually ends in /v1)."
    )
