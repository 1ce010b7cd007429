"""Encoders: text -> unit vectors, behind one small interface chosen by `Settings.encoder`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from assistant.settings import Settings
from assistant.weights import MINILM_ONNX, MINILM_TOKENIZER, require


class Encoder(Protocol):
    id: str  # stored with the index: vectors of different encoders never mix

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def token_counter(settings: Settings) -> Callable[[Sequence[str]], list[int]]:
    """Counts MiniLM word pieces; the shipped tokenizer.json pads and truncates to 128, so both
    are switched off here or every text would count as 128."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(require(MINILM_TOKENIZER, settings.model_dir)))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def count(texts: Sequence[str]) -> list[int]:
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    return count


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as int8 ONNX: mean pooling + L2 norm, as sentence-transformers does."""

    id = "all-MiniLM-L6-v2-int8-onnx"
    max_tokens = 256
    batch_size = 32

    def __init__(self, settings: Settings) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(require(MINILM_TOKENIZER, settings.model_dir)))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding()  # to the longest in the batch, not the file's fixed 128
        self.counter = token_counter(settings)
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(require(MINILM_ONNX, settings.model_dir)),
            options,
            providers=["CPUExecutionProvider"],
        )
        self.input_names = {i.name for i in self.session.get_inputs()}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.counter(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return _unit_rows(pooled)


class OllamaEncoder:
    """An Ollama embedding model through /api/embed; tokens are counted with MiniLM's tokenizer
    (only used to size passages, so an approximation is fine)."""

    def __init__(self, settings: Settings, model: str) -> None:
        import ollama

        self.id = f"ollama:{model}"
        self.model = model
        self.host = settings.ollama_host
        self.client = ollama.Client(host=self.host, timeout=settings.ollama_timeout_s)
        self.counter = token_counter(settings)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.counter(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from assistant.ollama_backend import ollama_errors

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with ollama_errors(self.host, self.model):
            response = self.client.embed(model=self.model, input=list(texts))
        vectors = np.array(response["embeddings"], dtype=np.float32)
        return _unit_rows(vectors)


class OpenAIEncoder:
    """An embedding model on an OpenAI-compatible server, through /v1/embeddings (the `openai`
    client itself: llama-index's OpenAI embedding class accepts only OpenAI's model names).
    Tokens are counted with MiniLM's tokenizer, as for Ollama."""

    def __init__(self, settings: Settings, model: str) -> None:
        import openai

        from assistant.openai_backend import api_key, need_url

        self.id = f"openai:{model}"
        self.model = model
        self.url = need_url(settings, "ASSISTANT_ENCODER=openai:NAME")
        self.client = openai.OpenAI(
            base_url=self.url,
            api_key=api_key(settings),
            timeout=settings.openai_timeout_s,
            max_retries=0,
        )
        self.counter = token_counter(settings)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.counter(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from assistant.openai_backend import openai_errors

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with openai_errors(self.url, self.model):
            response = self.client.embeddings.create(model=self.model, input=list(texts))
        rows = sorted(response.data, key=lambda d: d.index)
        vectors = np.array([_pooled(row.embedding) for row in rows], dtype=np.float32)
        return _unit_rows(vectors)


class RememberingEncoder:
    """An encoder that keeps the vectors of the last `size` texts it embedded. Evidence
    selection embeds every sentence of the retrieved passages at each question, and questions
    about one folder keep retrieving the same passages: about 0.2 s of each answer on 2 cores.
    A MiniLM vector does not depend on the batch it was embedded in (checked bit for bit in
    tests/test_ingest.py), so a remembered vector is the one the encoder would give again."""

    def __init__(self, encoder: Encoder, size: int = 20_000) -> None:
        self.id = encoder.id
        self._encoder = encoder
        self._size = size  # 20,000 MiniLM vectors are 31 MB
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._encoder.count_tokens(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            if missing:
                self._vectors.update(zip(missing, self._encoder.embed(missing), strict=True))
            for t in texts:
                self._vectors.move_to_end(t)
            rows = [self._vectors[t] for t in texts]
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return np.stack(rows) if rows else self._encoder.embed([])


def _pooled(embedding: Sequence[Any]) -> np.ndarray:
    """A text's vector; llama_cpp.server, serving a model without a pooling type, sends one
    vector per token: their mean is what sentence encoders use."""
    vector = np.asarray(embedding, dtype=np.float32)
    return vector.mean(axis=0) if vector.ndim == 2 else vector


def make_encoder(settings: Settings) -> Encoder:
    if settings.encoder == "minilm":
        return MiniLMEncoder(settings)
    if settings.encoder.startswith("ollama:"):
        return OllamaEncoder(settings, settings.encoder.removeprefix("ollama:"))
    if settings.encoder.startswith("openai:"):
        return OpenAIEncoder(settings, settings.encoder.removeprefix("openai:"))
    raise ValueError(
        f"Unknown encoder '{settings.encoder}'; use 'minilm', 'ollama:NAME' or 'openai:NAME'."
    )


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (cosine similarity becomes a dot product)."""
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
