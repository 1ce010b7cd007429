"""A test double of the Ollama server, for the tests only.

It exists because the real Ollama server binary cannot be installed on this machine; it is never
part of the product. It speaks Ollama's HTTP API (the shapes of Ollama's docs/api.md and of the
`ollama` Python client's `_types.py`) well enough for `ollama.Client` and llama-index's `Ollama`
LLM to work against it unchanged, and answers with a REAL model: llama.cpp through
llama-cpp-python, at most one model loaded at a time.

`Behaviour` lets a test make it misbehave while it runs: models that are "not pulled", a delay
before every /api answer (client timeouts), or a connection dropped in the middle of an answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from llama_cpp import LLAMA_POOLING_TYPE_MEAN, LLAMA_POOLING_TYPE_UNSPECIFIED, Llama, LlamaGrammar
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_grammar import JSON_GBNF

from assistant.backends import amx_safe_loading

VERSION = "0.12.6"  # the Ollama server version this double claims to be
DEFAULT_NUM_CTX = 4096
# Ollama's words for an absent model (server/routes.go: "model '%s' not found"); servers before
# late 2024 added ", try pulling it first". Clients should rely on the 404, not on the text.
NOT_FOUND = "model '{}' not found"
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}
Piece = dict[str, Any]  # {"content": text} while generating, then the final statistics
log = logging.getLogger(__name__)


@dataclass
class Behaviour:
    """Misbehaviour a test may switch on and off while the server runs."""

    missing_models: set[str] = field(default_factory=set)  # 404, and absent from /api/tags
    delay_s: float = 0.0  # sleep this long before answering any /api request
    drop_after_chunks: int | None = None  # abort streams after N chunks; other answers at once


class OllamaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class DroppedConnection(Exception):
    """Raised in a response already started, on purpose: uvicorn then aborts the connection."""


def _stamp(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).isoformat().replace("+00:00", "Z")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


@dataclass
class _Loaded:
    name: str
    key: tuple[Path, int, bool]  # path, n_ctx, embedding
    llama: Llama
    template: Jinja2ChatFormatter
    expires_at: datetime


class Engine:
    """The GGUF files, loaded lazily and one at a time; every llama call holds `lock`."""

    def __init__(self, models: dict[str, Path], embed_model: Path | None, n_threads: int):
        self.models = {name: Path(path) for name, path in models.items()}
        self.embed_model, self.n_threads = Path(embed_model) if embed_model else None, n_threads
        self.lock, self._info_lock = threading.Lock(), threading.Lock()
        self.loaded: _Loaded | None = None
        self._info: dict[Path, dict[str, Any]] = {}

    def info(self, path: Path) -> dict[str, Any]:
        """GGUF metadata and Ollama's `details`, read once through a vocab-only load."""
        with self._info_lock:
            if path not in self._info:
                llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
                meta, n_params = dict(llama.metadata), llama._model.n_params()
                eos = llama._model.token_get_text(llama.token_eos())
                llama.close()
                arch, stat = meta.get("general.architecture", "unknown"), path.stat()
                fingerprint = f"{path}:{stat.st_size}:{stat.st_mtime}".encode()
                details = {
                    "parent_model": "",
                    "format": "gguf",
                    "family": arch,
                    "families": [arch],
                    "parameter_size": meta.get("general.size_label") or f"{n_params / 1e6:.0f}M",
                    "quantization_level": FILE_TYPES.get(int(meta.get("general.file_type", -1))),
                }
                self._info[path] = {
                    "meta": meta,
                    "arch": arch,
                    "eos": eos,
                    "n_params": n_params,
                    "details": details,
                    "size": stat.st_size,
                    "digest": hashlib.sha256(fingerprint).hexdigest(),
                    "modified_at": _stamp(datetime.fromtimestamp(stat.st_mtime, UTC)),
                }
            return self._info[path]

    def load(self, name: str, n_ctx: int, embedding: bool = False) -> tuple[_Loaded, float]:
        """The model for `name` with this n_ctx, loaded unless it already is. Hold `lock`."""
        path = self.embed_model if embedding else self.models[name]
        assert path is not None
        expires = datetime.now(UTC) + timedelta(minutes=5)  # Ollama's default keep_alive
        if self.loaded and self.loaded.key == (path, n_ctx, embedding):
            self.loaded.name, self.loaded.expires_at = name, expires
            return self.loaded, 0.0
        self.unload()
        started, info = time.perf_counter(), self.info(path)
        extra: dict[str, Any] = {}
        if embedding:  # a causal LM has no pooling of its own: mean-pool like embedding models
            own = f"{info['arch']}.pooling_type" in info["meta"]
            extra = {
                "embedding": True,
                "n_batch": n_ctx,
                "n_ubatch": n_ctx,
                "pooling_type": LLAMA_POOLING_TYPE_UNSPECIFIED if own else LLAMA_POOLING_TYPE_MEAN,
            }
        with amx_safe_loading():
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
                **extra,
            )
        template = info["meta"].get("tokenizer.chat_template", "{{ messages[-1].content }}")
        bos = llama._model.token_get_text(llama.token_bos())
        self.loaded = _Loaded(
            name,
            (path, n_ctx, embedding),
            llama,
            Jinja2ChatFormatter(template, info["eos"], bos),
            expires,
        )
        return self.loaded, time.perf_counter() - started

    def unload(self) -> None:
        if self.loaded:
            self.loaded.llama.close()
            self.loaded = None


def _settings(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """num_ctx, and llama-cpp-python's sampling arguments from Ollama's options and defaults."""
    o = body.get("options") or {}
    if not isinstance(o, dict):
        raise OllamaError(400, "options must be an object")
    o = {k: v for k, v in o.items() if v is not None}
    floats = {
        "temperature": 0.8,
        "top_p": 0.9,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repeat_penalty": 1.1,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "mirostat_tau": 5.0,
        "mirostat_eta": 0.1,
    }
    try:
        seed, predict = int(o.get("seed", -1)), int(o.get("num_predict", -1))
        return int(o.get("num_ctx", DEFAULT_NUM_CTX)), {
            **{k: float(o.get(k, default)) for k, default in floats.items()},
            "top_k": int(o.get("top_k", 40)),
            "mirostat_mode": int(o.get("mirostat", 0)),
            "stop": [str(s) for s in o.get("stop", [])],
            "seed": seed if seed >= 0 else None,
            "max_tokens": predict if predict > 0 else None,
        }
    except (TypeError, ValueError) as exc:
        raise OllamaError(400, f"invalid options: {exc}") from exc


def _grammar(fmt: Any) -> LlamaGrammar | None:
    """Ollama's `format` ("json" or a JSON schema) as llama.cpp's constraining grammar."""
    if fmt in (None, ""):
        return None
    if fmt != "json" and not isinstance(fmt, dict):
        raise OllamaError(400, 'invalid format: expected "json" or a valid JSON schema')
    try:
        if fmt == "json":
            return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        return LlamaGrammar.from_json_schema(json.dumps(fmt), verbose=False)
    except Exception as exc:
        raise OllamaError(400, f"invalid JSON schema in format: {exc}") from exc


def _messages(body: dict[str, Any], kind: str) -> tuple[list[dict[str, str]], str | None]:
    """The chat messages of a request, and for a raw /api/generate its bare prompt."""
    if kind == "chat":
        given = body.get("messages") or []
        if not isinstance(given, list) or not all(isinstance(m, dict) for m in given):
            raise OllamaError(400, "messages must be a list of objects")
        return [
            {"role": str(m.get("role") or "user"), "content": str(m.get("content") or "")}
            for m in given
        ], None
    prompt, system = str(body.get("prompt") or ""), str(body.get("system") or "")
    system_part = [{"role": "system", "content": system}] if system else []
    messages = [*system_part, {"role": "user", "content": prompt}] if prompt else []
    return messages, prompt if body.get("raw") else None


def _fit(loaded: _Loaded, messages: list[dict[str, str]], budget: int) -> list[int]:
    """The prompt's tokens cut to `budget` as Ollama does it, silently: drop the oldest messages
    (keeping the system ones and always the last one), then keep the tail of the tokens."""

    def tokens(i: int) -> list[int]:
        kept = [m for m in messages[:i] if m["role"] == "system"] + messages[i:]
        text = loaded.template(messages=kept).prompt  # type: ignore[arg-type]
        return loaded.llama.tokenize(text.encode(), add_bos=False, special=True)

    best = tokens(0)
    if len(best) > budget:
        best = tokens(len(messages) - 1)
        for i in range(len(messages) - 2, 0, -1):
            if len(candidate := tokens(i)) > budget:
                break
            best = candidate
    if len(best) > budget:
        log.warning("truncating input prompt: limit=%d prompt=%d", budget, len(best))
    return best[-budget:]


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise OllamaError(400, f"invalid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise OllamaError(400, "missing request body" if body is None else "body must be an object")
    return body


async def _dropped() -> AsyncGenerator[bytes, None]:
    raise DroppedConnection("dropped before answering (Behaviour.drop_after_chunks)")
    yield b""  # unreachable: makes this an async generator, so the headers go out first


class OllamaApp:
    """What the routes of `make_app` do."""

    def __init__(
        self,
        models: dict[str, Path],
        embed_model: Path | None,
        behaviour: Behaviour,
        n_threads: int,
    ) -> None:
        self.engine, self.behaviour = Engine(models, embed_model, n_threads), behaviour

    def resolve(self, name: Any, embedding: bool = False) -> str:
        if not isinstance(name, str) or not name:
            raise OllamaError(400, "model is required")
        found = next(
            (
                n
                for n in (name, f"{name}:latest", name.removesuffix(":latest"))
                if n in self.engine.models
            ),
            None,
        )
        if (
            found is None
            or {name, found} & self.behaviour.missing_models
            or (embedding and self.engine.embed_model is None)
        ):
            raise OllamaError(404, NOT_FOUND.format(name))
        return found

    async def bridge(self, produce: Callable[[], Iterator[Piece]]) -> AsyncGenerator[Piece, None]:
        """Run `produce` in a thread holding the engine's lock; stop it when the reader goes."""
        loop, stop = asyncio.get_running_loop(), threading.Event()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is gone: the server stopped
                stop.set()

        def work() -> None:
            try:
                with self.engine.lock:
                    for item in produce():
                        put("item", item)
                        if stop.is_set():
                            break
            except Exception as exc:
                put("error", exc)
            finally:
                put("end", None)

        threading.Thread(target=work, daemon=True).start()
        try:
            while (got := await queue.get())[0] != "end":
                if got[0] == "error":
                    raise got[1]
                yield got[1]
        finally:
            stop.set()

    def complete(
        self,
        name: str,
        body: dict[str, Any],
        grammar: LlamaGrammar | None,
        messages: list[dict[str, str]],
        raw: str | None,
        started: float,
    ) -> Iterator[Piece]:
        n_ctx, sampling = _settings(body)
        loaded, load_s = self.engine.load(name, n_ctx)
        if not messages:  # Ollama's way to load a model ahead of use
            yield {"done": True, "done_reason": "load"}
            return
        llama, predict = loaded.llama, sampling["max_tokens"]
        budget = n_ctx - min(predict or n_ctx // 4, n_ctx // 2)  # leave room for the answer
        if raw is None:
            prompt = _fit(loaded, messages, budget)
            sampling["stop"].append(loaded.template.eos_token)
        else:
            bos = llama._model.add_bos_token()
            prompt = llama.tokenize(raw.encode(), add_bos=bos, special=True)[-budget:]
        t0, first, text, reason = time.perf_counter(), 0.0, "", "stop"
        chunk: Any
        for chunk in llama.create_completion(prompt, stream=True, grammar=grammar, **sampling):
            choice = chunk["choices"][0]
            first = first or time.perf_counter()
            if choice["text"]:
                text += choice["text"]
                yield {"content": choice["text"]}
            reason = choice.get("finish_reason") or reason
        end = time.perf_counter()
        first = first or end
        output = llama.tokenize(text.encode(), add_bos=False, special=True) if text else []
        yield {
            "done": True,
            "done_reason": reason,
            "total_duration": _ns(end - started),
            "load_duration": _ns(load_s),
            "prompt_eval_count": len(prompt),
            "prompt_eval_duration": _ns(first - t0),
            "eval_count": len(output),
            "eval_duration": _ns(end - first),
            "context": prompt + output,
        }

    async def infer(self, request: Request, kind: str) -> Response:
        """POST /api/chat and /api/generate."""
        started, body = time.perf_counter(), await _body(request)
        name = self.resolve(body.get("model"))
        if body.get("think"):
            raise OllamaError(400, f'"{body["model"]}" does not support thinking')
        _settings(body)  # bad options or format are a 400 before any work
        grammar, (messages, raw) = _grammar(body.get("format")), _messages(body, kind)
        drop = self.behaviour.drop_after_chunks
        if body.get("stream") is False and drop is not None:
            return StreamingResponse(_dropped(), media_type="application/json")

        def shape(piece: Piece, text: str | None = None) -> dict[str, Any]:
            text = piece.get("content", "") if text is None else text
            out: dict[str, Any] = {"model": body["model"], "created_at": _stamp(), "done": False}
            out.update(
                {"message": {"role": "assistant", "content": text}}
                if kind == "chat"
                else {"response": text}
            )
            return out | {
                k: v
                for k, v in piece.items()
                if k != "content" and (k != "context" or kind == "generate")
            }

        pieces = self.bridge(lambda: self.complete(name, body, grammar, messages, raw, started))
        first = await anext(pieces)  # a failure before any piece still gets a status, as Ollama
        if body.get("stream") is False:
            parts = [first] + [p async for p in pieces]
            return JSONResponse(shape(parts[-1], "".join(p.get("content", "") for p in parts)))

        async def lines() -> AsyncGenerator[bytes, None]:
            piece: Piece | None = first
            sent = 0
            try:
                while piece is not None:
                    if drop is not None and sent >= drop:
                        raise DroppedConnection(f"dropped after {sent} chunks (Behaviour)")
                    yield (json.dumps(shape(piece)) + "\n").encode()
                    piece, sent = await anext(pieces, None), sent + 1
            except (ValueError, RuntimeError) as exc:  # mid-stream: an error line, as Ollama
                yield (json.dumps({"error": str(exc)}) + "\n").encode()
            finally:
                await pieces.aclose()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def embed(self, request: Request) -> Response:
        """POST /api/embed."""
        started, body = time.perf_counter(), await _body(request)
        name = self.resolve(body.get("model"), embedding=True)
        n_ctx, given = _settings(body)[0], body.get("input", [])
        inputs = ([given] if given else []) if isinstance(given, str) else given
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise OllamaError(400, "invalid input type")
        if self.behaviour.drop_after_chunks is not None:
            return StreamingResponse(_dropped(), media_type="application/json")

        def produce() -> Iterator[Piece]:
            loaded, load_s = self.engine.load(name, n_ctx, embedding=True)
            vectors, count = (
                loaded.llama.embed(
                    inputs,
                    normalize=True,
                    return_count=True,
                    truncate=body.get("truncate") is not False,
                )
                if inputs
                else ([], 0)
            )
            yield {
                "model": body["model"],
                "embeddings": vectors,
                "load_duration": _ns(load_s),
                "total_duration": _ns(time.perf_counter() - started),
                "prompt_eval_count": count,
            }

        try:
            return JSONResponse([r async for r in self.bridge(produce)][0])
        except ValueError as exc:  # e.g. an input longer than the context with truncate=false
            raise OllamaError(400, str(exc)) from exc


def make_app(
    models: dict[str, Path],
    embed_model: Path | None = None,
    behaviour: Behaviour | None = None,
    n_threads: int = 2,
) -> FastAPI:
    """Ollama's API over `models` (Ollama name -> GGUF path); /api/embed uses `embed_model`."""
    state = OllamaApp(models, embed_model, behaviour or Behaviour(), n_threads)
    engine = state.engine

    async def delay(request: Request) -> None:
        if state.behaviour.delay_s > 0:
            await request.body()  # read it first: is_disconnected() must not swallow it
            await asyncio.sleep(state.behaviour.delay_s)
            if await request.is_disconnected():  # the client gave up: no work for nobody
                raise OllamaError(499, "request canceled")

    app = FastAPI(title="Ollama test double")
    api = APIRouter(prefix="/api", dependencies=[Depends(delay)])
    app.state.ollama = state

    @app.exception_handler(OllamaError)
    async def ollama_error(_: Request, exc: OllamaError) -> Response:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def failure(_: Request, exc: Exception) -> Response:  # e.g. llama.cpp failing
        return JSONResponse({"error": str(exc)}, status_code=500)

    @app.api_route("/", methods=["GET", "HEAD"])
    async def root() -> Response:
        return PlainTextResponse("Ollama is running")

    @api.api_route("/version", methods=["GET", "HEAD"])
    async def version() -> Response:
        return JSONResponse({"version": VERSION})

    def entry(name: str, info: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "digest": info["digest"],
            "size": info["size"],
            "details": info["details"],
        }

    @api.api_route("/tags", methods=["GET", "HEAD"])
    async def tags() -> Response:
        names = [n for n in engine.models if n not in state.behaviour.missing_models]
        infos = [await asyncio.to_thread(engine.info, engine.models[n]) for n in names]
        return JSONResponse(
            {
                "models": [
                    entry(n, i) | {"modified_at": i["modified_at"]}
                    for n, i in zip(names, infos, strict=True)
                ]
            }
        )

    @api.post("/show")
    async def show(request: Request) -> Response:
        body = await _body(request)
        name = state.resolve(body.get("model") or body.get("name"))
        info = await asyncio.to_thread(engine.info, path := engine.models[name])
        meta, eos = info["meta"], info["eos"]
        template = meta.get("tokenizer.chat_template", "{{ .Prompt }}")
        model_info = {
            k: json.loads(v) if re.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?|true|false", v) else v
            for k, v in meta.items()
            if k not in ("general.name", "tokenizer.chat_template")
        }
        return JSONResponse(
            {
                "license": meta.get("general.license", ""),
                "parameters": f'{"stop":<30} "{eos}"',
                "modelfile": f'# Modelfile generated by "ollama show"\n# To build a new Modelfile '
                f"based on this, replace FROM with:\n# FROM {name}\n\nFROM {path}\n"
                f'TEMPLATE """{template}"""\nPARAMETER stop "{eos}"\n',
                "template": template,
                "details": info["details"],
                "capabilities": ["completion"],
                "model_info": model_info | {"general.parameter_count": info["n_params"]},
                "modified_at": info["modified_at"],
            }
        )

    @api.get("/ps")
    async def ps() -> Response:
        if (loaded := engine.loaded) is None:
            return JSONResponse({"models": []})
        return JSONResponse(
            {
                "models": [
                    entry(loaded.name, engine.info(loaded.key[0]))
                    | {
                        "size_vram": 0,
                        "expires_at": _stamp(loaded.expires_at),
                        "context_length": loaded.key[1],
                    }
                ]
            }
        )

    @api.post("/chat")
    async def chat(request: Request) -> Response:
        return await state.infer(request, "chat")

    @api.post("/generate")
    async def generate(request: Request) -> Response:
        return await state.infer(request, "generate")

    api.add_api_route("/embed", state.embed, methods=["POST"])
    app.include_router(api)
    return app


class OllamaServer:
    """`make_app` served by uvicorn in a background thread on 127.0.0.1, at a free port; a
    context manager, or start() and stop(). Give clients `url`; change `behaviour` at will."""

    def __init__(
        self,
        models: dict[str, Path],
        embed_model: Path | None = None,
        behaviour: Behaviour | None = None,
        n_threads: int = 2,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.app = make_app(models, embed_model, self.behaviour, n_threads)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))  # loopback only; the kernel picks a free port
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5
            )
        )
        self._thread = threading.Thread(
            target=self._server.run,
            name="ollama-double",
            kwargs={"sockets": [self._socket]},
            daemon=True,
        )

    def start(self) -> OllamaServer:
        logging.getLogger("uvicorn.error").addFilter(  # the drops are on purpose
            lambda r: not (r.exc_info and isinstance(r.exc_info[1], DroppedConnection))
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Ollama test double did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()
        engine: Engine = self.app.state.ollama.engine
        if engine.lock.acquire(timeout=30):  # free the model once no request is using it
            engine.unload()
            engine.lock.release()

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
