"""The evaluation splits: which cases are asked over which corpus.

- dev: the cases the pipeline may be tuned on (read them case by case).
- test: frozen; written before the pipeline was changed for it. Read its totals only.
- handbook: a second corpus in another domain (60 pages of Debian's `debian-handbook`, HTML),
  never tuned on either. The pages are not ours to commit: `handbook/files.txt` lists them and
  the package pin, and they are copied from the installed package at test time.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

EVALS = Path(__file__).resolve().parent
SEEDS = EVALS.parent / "seeds"
HANDBOOK_LIST = EVALS / "handbook" / "files.txt"
HANDBOOK_PACKAGE = "debian-handbook=11.20220922"
HANDBOOK_DIR = Path("/usr/share/doc/debian-handbook/html/en-US")


class CorpusUnavailable(Exception):
    """The split's corpus is not on this machine; the message says how to get it."""


def handbook_files() -> list[str]:
    lines = HANDBOOK_LIST.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Split:
    name: str
    cases: Path
    corpus: str  # "seeds" or "handbook"

    def source_dir(self) -> Path:
        if self.corpus == "seeds":
            return SEEDS
        missing = [f for f in handbook_files() if not (HANDBOOK_DIR / f).is_file()]
        if missing:
            raise CorpusUnavailable(
                f"the {self.name} split needs Debian's documentation package: run "
                f"`apt-get install {HANDBOOK_PACKAGE}` (`make test` does it when run as root)"
            )
        return HANDBOOK_DIR

    def copy_corpus(self, target: Path) -> Path:
        """A private copy of the split's corpus in `target` (the index must not see others)."""
        source = self.source_dir()
        if self.corpus == "seeds":
            shutil.copytree(source, target)
        else:
            target.mkdir(parents=True)
            for name in handbook_files():
                shutil.copy2(source / name, target / name)
        return target


SPLITS: dict[str, Split] = {
    "dev": Split("dev", EVALS / "dev.jsonl", "seeds"),
    "test": Split("test", EVALS / "test.jsonl", "seeds"),
    "handbook": Split("handbook", EVALS / "handbook.jsonl", "handbook"),
}
