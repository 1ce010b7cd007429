"""All settings in one place: defaults, then `assistant.toml`, then `ASSISTANT_*` variables.

Each field's description is its documentation (`assistant settings` prints them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
        20.0, description="Files larger than this are skipped when ingesting."
    )
    chunk_tokens: int = Field(160, description="Target passage length in encoder tokens.")
    chunk_overlap_tokens: int = Field(
        24, description="Tokens of trailing sentences repeated at the start of the next passage."
    )
    encoder: str = Field(
        "minilm",
        description="Embedding model: `minilm` (all-MiniLM-L6-v2, int8 ONNX, bundled) or "
        "`ollama:NAME` (an Ollama embedding model through /api/embed).",
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means embedded Chroma in `index_dir`."
    )
    chroma_port: int = Field(8000, description="Chroma server port (with `chroma_host`).")

    # Retrieval and evidence
    top_k: int = Field(6, description="Passages kept after fusing dense and BM25 results.")
    evidence_sentences: int = Field(
        6, description="Most sentence spans given to the model as evidence."
    )
    evidence_tokens: int = Field(
        200,
        description="Token budget for the evidence: prompt length sets the answer latency on a "
        "CPU (about 100 prompt tokens/s on 2 cores).",
    )

    # Language model
    backend: Literal["auto", "embedded", "ollama"] = Field(
        "auto",
        description="`embedded` (llama.cpp in-process), `ollama` (a local Ollama server), or "
        "`auto`: Ollama when it answers and has `ollama_model`, else embedded.",
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
        4096, description="Context window in tokens (llama.cpp n_ctx, Ollama num_ctx)."
    )
    max_answer_tokens: int = Field(384, description="Upper bound on generated tokens per answer.")
    support_check: bool = Field(
        True,
        description="Ask the model whether each cited sentence states its claim (embedded "
        "backend; one short forward pass a claim) and drop the claims it says no to.",
    )
    threads: int = Field(
        default_factory=lambda: len(os.sched_getaffinity(0)),
        description="CPU threads for llama.cpp and the encoder (default: available cores).",
    )
    ollama_host: str = Field(
        os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"),
        description="Ollama server URL.",
    )
    ollama_model: str = Field("qwen2.5:1.5b", description="Model name on the Ollama server.")
    ollama_timeout_s: float = Field(120.0, description="Seconds to wait for an Ollama response.")
    ollama_keep_alive: str = Field("10m", description="How long Ollama keeps the model loaded.")

    # Questions and the UI
    max_question_chars: int = Field(2000, description="Longer questions are cut, with a notice.")
    upload_types: list[str] = Field(
        [".txt", ".md", ".html", ".htm", ".pdf"],
        description="File types the UI accepts for upload.",
    )

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
        return int(self.max_file_mb * 1024 * 1024)
