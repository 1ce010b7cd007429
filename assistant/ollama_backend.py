"""The Ollama backend: llama-index's `Ollama` class against a local Ollama server."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage

from assistant.backends import Backend, Draft
from assistant.errors import BackendUnavailableError
from assistant.settings import Settings


@dataclass
class OllamaBackend(Backend):
    host: str = ""

    def errors(self) -> AbstractContextManager[None]:
        return ollama_errors(self.host, self.model)

    def stream_draft(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any]
    ) -> Iterator[Draft]:
        with self.errors():
            for chunk in self.llm.stream_chat(messages, format=schema):
                raw = chunk.raw if isinstance(chunk.raw, dict) else {}
                yield Draft(chunk.message.content or "", int(raw.get("prompt_eval_count") or 0))


def ollama_backend(settings: Settings) -> OllamaBackend:
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
    return OllamaBackend(
        llm=llm, name="ollama", model=settings.ollama_model, host=settings.ollama_host
    )


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
