"""All settings in one place: defaults, then `assistant.toml`, then `ASSISTANT_*` variables.

Each field's description is its documentation (`assistant settings` prints them).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import SettingsError


def _default_model_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "assistant" / "models"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", toml_file="assistant.toml", extra="forbid"
    )

    # Corpus and index
    corpus_dir: Path = Field(Path("seeds"), description="Folder of documents to answer from.")
    index_dir: Path = Field(
        Path("index"), description="Where the index (Chroma, BM25, manifest) lives."
    )
    model_dir: Path = Field(
        default_factory=_default_model_dir,
        description="Cache folder for verified model weights (filled by `make setup`).",
    )
    max_file_mb: float = Field(
        20.0, gt=0, description="Files larger than this many MB (10^6 bytes) are skipped."
    )
    chunk_tokens: int = Field(160, gt=0, description="Target passage length in encoder tokens.")
    chunk_overlap_tokens: int = Field(
        24,
        ge=0,
        validate_default=True,  # checked against chunk_tokens even when left at its default
        description="Tokens of trailing sentences repeated at the start of the next passage.",
    )
    encoder: str = Field(
        "minilm",
        description="Embedding model: `minilm` (all-MiniLM-L6-v2, int8 ONNX, bundled), "
        "`ollama:NAME` (an Ollama embedding model through /api/embed) or `openai:NAME` (an "
        "embedding model on the OpenAI-compatible server at `openai_base_url`, /v1/embeddings).",
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means embedded Chroma in `index_dir`."
    )
    chroma_port: int = Field(
        8000, gt=0, le=65535, description="Chroma server port (with `chroma_host`)."
    )

    # Retrieval and evidence
    top_k: int = Field(6, gt=0, description="Passages kept after fusing dense and BM25 results.")
    evidence_sentences: int = Field(
        6, gt=0, description="Most sentence spans given to the model as evidence."
    )
    evidence_tokens: int = Field(
        200,
        gt=0,
        description="Token budget for the evidence: prompt length sets the answer latency on a "
        "CPU (about 100 prompt tokens/s on 2 cores).",
    )

    # Language model
    backend: Literal["auto", "embedded", "ollama", "openai"] = Field(
        "auto",
        description="`embedded` (llama.cpp in-process), `ollama` (a local Ollama server), "
        "`openai` (an OpenAI-compatible server at `openai_base_url`), or `auto`: the "
        "OpenAI-compatible server when one is configured and answers, else Ollama when it "
        "answers and has `ollama_model`, else embedded.",
    )
    embedded_model: str = Field(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="GGUF for the embedded backend: a file name in `model_dir`, a path, or "
        "`ollama:NAME` to open a model already pulled with Ollama (no server needed).",
    )
    ollama_models_dir: Path = Field(
        Path(os.environ.get("OLLAMA_MODELS", str(Path.home() / ".ollama" / "models"))),
        description="Ollama's model store, for `embedded_model = ollama:NAME`.",
    )
    context_window: int = Field(
        4096, gt=0, description="Context window in tokens (llama.cpp n_ctx, Ollama num_ctx)."
    )
    max_answer_tokens: int = Field(
        384, gt=0, description="Upper bound on generated tokens per answer."
    )
    support_check: bool = Field(
        True,
        description="Ask the model whether each cited sentence states its claim (embedded "
        "backend; one short forward pass a claim) and drop the claims it says no to.",
    )
    resolve_follow_ups: bool = Field(
        True,
        description="Read a follow-up's 'he', 'it' or 'that attack' as what the earlier turn "
        "was about, for retrieval, the model and verification.",
    )
    rewrite_follow_ups: bool = Field(
        True,
        description="Ask the model to write out a follow-up the rules leave unresolved ('How "
        "many of them ...?', 'And according to X?') and search with it, if it still asks the "
        "same.",
    )
    split_compound: bool = Field(
        True,
        description='Answer a compound question ("Did X ..., and who else ...?") one part '
        "at a time, each with its own retrieval, evidence and verification.",
    )
    threads: int = Field(
        default_factory=lambda: len(os.sched_getaffinity(0)),
        gt=0,
        description="CPU threads for llama.cpp and the encoder (default: available cores).",
    )
    ollama_host: str = Field(
        os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"),
        description="Ollama server URL.",
    )
    ollama_model: str = Field("qwen2.5:1.5b", description="Model name on the Ollama server.")
    ollama_timeout_s: float = Field(
        120.0, gt=0, description="Seconds to wait for an Ollama response."
    )
    ollama_keep_alive: str = Field("10m", description="How long Ollama keeps the model loaded.")
    openai_base_url: str | None = Field(
        None,
        description="URL of an OpenAI-compatible server's API, such as "
        "http://127.0.0.1:8080/v1 (llama.cpp's llama-server, LM Studio, vLLM).",
    )
    openai_model: str | None = Field(
        None,
        description="Model name on the OpenAI-compatible server; unset means the first model "
        "its /models lists.",
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible server (never shown or logged)."
    )
    openai_api_key_file: Path | None = Field(
        None, description="A file holding the API key, instead of `openai_api_key`."
    )
    openai_timeout_s: float = Field(
        120.0, gt=0, description="Seconds to wait for the OpenAI-compatible server."
    )

    # Questions and the UI
    max_question_chars: int = Field(
        2000, gt=0, description="Longer questions are cut, with a notice."
    )
    upload_types: list[str] = Field(
        [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"],
        description="File types the UI accepts for upload.",
    )

    @field_validator("chunk_overlap_tokens")
    @classmethod
    def _overlap_below_chunk(cls, value: int, info: ValidationInfo) -> int:
        chunk = info.data.get("chunk_tokens")
        if chunk is not None and value >= chunk:
            raise ValueError(
                f"is not valid: use fewer tokens than ASSISTANT_CHUNK_TOKENS ({chunk})"
            )
        return value

    @field_validator("encoder")
    @classmethod
    def _known_encoder(cls, value: str) -> str:
        if value != "minilm" and not re.fullmatch(r"(ollama|openai):\S+", value):
            raise ValueError("is not valid: use minilm, ollama:NAME or openai:NAME")
        return value

    @field_validator("ollama_host")
    @classmethod
    def _host_url(cls, value: str) -> str:
        if not _is_host_url(value):
            raise ValueError("is malformed: use a URL such as http://127.0.0.1:11434")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and ("://" not in value or not _is_host_url(value)):
            raise ValueError("is malformed: use a URL such as http://127.0.0.1:8080/v1")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)  # MB = 10^6 bytes, as every message says


def _is_host_url(value: str) -> bool:
    """http(s)://host[:port][/path], or host[:port] as Ollama's own OLLAMA_HOST allows."""
    if "://" not in value:
        return re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?/?", value) is not None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def load_settings(**overrides: Any) -> Settings:
    """Settings, or a SettingsError with one sentence (one line) per bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError("\n".join(_sentence(error) for error in exc.errors())) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"assistant.toml is not valid TOML ({exc}); fix it or remove it."
        ) from None


def _sentence(error: Any) -> str:
    name = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        return f"'{name}' is not a setting; `assistant settings` lists them."
    shown = f"ASSISTANT_{name.upper()}={error['input']!r}"
    if error["type"] == "value_error":
        return f"{shown} {error['ctx']['error']}."
    return f"{shown} is not valid: {_expected(name)}."


def _expected(name: str) -> str:
    """What a field takes, in words, from its type and bounds."""
    field = Settings.model_fields.get(name)
    if field is None:
        return "see `assistant settings`"
    kind = field.annotation
    if get_origin(kind) is Literal:
        return "use one of " + ", ".join(str(a) for a in get_args(kind))
    if kind is bool:
        return "use true or false"
    if kind not in (int, float):
        return "see `assistant settings`"
    words = {
        annotated_types.Gt: ("greater than", "gt"),
        annotated_types.Ge: ("of at least", "ge"),
        annotated_types.Lt: ("less than", "lt"),
        annotated_types.Le: ("at most", "le"),
    }
    bounds = [
        f"{words[type(m)][0]} {getattr(m, words[type(m)][1])}"
        for m in field.metadata
        if type(m) in words
    ]
    return (
        "use "
        + ("a whole number" if kind is int else "a number")
        + "".join(f" {b}" if i == 0 else f" and {b}" for i, b in enumerate(bounds))
    )
