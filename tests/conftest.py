"""Shared fixtures: every test gets its own corpus folder and index, never the repository's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come only from what a test passes: no ASSISTANT_* variables, no assistant.toml."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", backend="embedded")


def seeded_assistant(root: Path) -> Assistant:
    """An Assistant over its own copy of seeds/ in `root`, ingested, on the embedded model."""
    shutil.copytree(SEEDS, root / "corpus")
    a = Assistant(
        Settings(corpus_dir=root / "corpus", index_dir=root / "index", backend="embedded")
    )
    a.ingest()
    return a
