"""Shared fixtures: every test gets its own corpus folder and index, never the repository's.
Helpers and fakes shared with evals/ live in tests/support.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.settings import Settings
from tests.support import copy_seeds


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come only from what a test passes: no ASSISTANT_* variables, no assistant.toml."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return copy_seeds(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", backend="embedded")
