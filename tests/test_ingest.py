"""Incremental ingestion into the real Chroma index with the real MiniLM encoder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, IngestReport
from assistant.errors import IndexMismatchError
from assistant.index import IndexStore
from assistant.settings import Settings
from tests.support import SEEDS, FakeEncoder

SEED_NAMES = sorted(p.name for p in SEEDS.iterdir())


def test_ingest_then_unchanged_rerun_embeds_nothing(settings: Settings, corpus: Path) -> None:
    assistant = Assistant(settings, encoder=FakeEncoder())
    first = assistant.ingest(corpus)
    assert isinstance(first, IngestReport)
    assert sorted(first.added) == SEED_NAMES and first.passages_embedded > 0
    assert first.skipped == [] and first.removed == [] and first.updated == []

    second = assistant.ingest(corpus)
    assert second.passages_embedded == 0
    assert sorted(second.unchanged) == SEED_NAMES
    assert second.added == second.updated == second.removed == []

    stats = assistant.index_stats()
    assert stats.files == 5 and stats.passages > 5
    assert stats.encoder == "all-MiniLM-L6-v2-int8-onnx" and stats.size_bytes > 0


def test_edit_one_delete_another_touches_only_those(settings: Settings, corpus: Path) -> None:
    assistant = Assistant(settings, encoder=FakeEncoder())
    assistant.ingest(corpus)
    before = IndexStore(settings).read_manifest()
    assert before is not None

    edited, deleted = SEED_NAMES[0], SEED_NAMES[1]
    with (corpus / edited).open("a") as f:
        f.write("\nA closing line added by the test about the Zorbland river festival.\n")
    (corpus / deleted).unlink()

    report = assistant.ingest(corpus)
    assert report.updated == [edited] and report.removed == [deleted]
    assert sorted(report.unchanged) == [n for n in SEED_NAMES if n not in (edited, deleted)]
    # Only the edited file's new tail is embedded: unchanged passages keep their ids.
    old_ids = set(before.files[edited].passages)
    after = IndexStore(settings).read_manifest()
    assert after is not None and deleted not in after.files
    new_ids = set(after.files[edited].passages)
    assert report.passages_embedded == len(new_ids - old_ids) >= 1
    # Chroma holds exactly the live passages: the deleted file's vectors are gone.
    assert IndexStore(settings).stored_ids() == after.live_ids()
    hits = assistant.retriever().retrieve("Zorbland river festival", 3)
    assert hits[0].passage.file == edited


def test_rebuild_flag_and_setting_changes_never_mix_vectors(
    settings: Settings, corpus: Path
) -> None:
    Assistant(settings, encoder=FakeEncoder()).ingest(corpus)
    rebuilt = Assistant(settings, encoder=FakeEncoder()).ingest(corpus, rebuild=True)
    assert rebuilt.rebuilt and sorted(rebuilt.added) == SEED_NAMES

    changed = settings.model_copy(update={"chunk_tokens": 100})
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Assistant(changed, encoder=FakeEncoder()).retriever()
    report = Assistant(changed, encoder=FakeEncoder()).ingest(corpus)
    assert report.rebuilt and report.notice and "chunking" in report.notice
    manifest = IndexStore(changed).read_manifest()
    assert manifest is not None and manifest.chunk_tokens == 100
    assert IndexStore(changed).stored_ids() == manifest.live_ids()


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def make_pdf(text: str) -> bytes:
    """A one-page PDF with real text, built with a correct cross-reference table."""
    content = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_bad_files_are_skipped_with_reasons(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    _write(folder / "good.txt", "The Zorbland festival is held in May in Quillby.")
    _write(folder / "notes.md", "# Notes\n\nThe festival has a river parade.")
    _write(
        folder / "page.html",
        "<html><head><title>T</title><script>var secret = 1;</script>"
        "</head><body><p>Visible <b>fact</b> here.</p><style>p{}</style></body></html>",
    )
    _write(folder / "doc.pdf", make_pdf("The Quillby bridge was opened in 1911."))
    _write(folder / "empty.txt", "")
    _write(folder / "blank.md", "  \n\n ")
    _write(folder / "binary.txt", b"\x00\x01\x02binary\x00")
    _write(folder / "latin1.txt", "caf\xe9 na\xefve".encode("latin-1"))
    _write(folder / "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    _write(folder / "image.png", b"\x89PNG\r\n\x1a\n")
    _write(folder / "big.txt", "word " * 300_000)
    _write(folder / "sub" / "deep.txt", "A nested document about the Quillby bridge.")
    _write(tmp_path / "outside.txt", "Outside the corpus folder.")
    (folder / "escape.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "sub" / "loop").symlink_to(folder)
    (folder / "dangling.txt").symlink_to(folder / "missing.txt")
    (folder / "alias.txt").symlink_to(folder / "good.txt")  # inside: read once, not twice

    limited = settings.model_copy(update={"max_file_mb": 1.0})
    report = Assistant(limited, encoder=FakeEncoder()).ingest(folder)

    assert sorted(report.added) == [
        "doc.pdf",
        "good.txt",
        "latin1.txt",
        "notes.md",
        "page.html",
        "sub/deep.txt",
    ]
    reasons = {s.file: s.reason for s in report.skipped}
    assert reasons["empty.txt"].startswith("empty") and reasons["blank.md"].startswith("empty")
    assert "binary" in reasons["binary.txt"]
    assert "cannot parse" in reasons["broken.pdf"]
    assert "unsupported file type '.png'" in reasons["image.png"]
    assert "too large" in reasons["big.txt"]
    assert "outside" in reasons["escape.txt"]
    assert "loop" in reasons["sub/loop"]
    assert "broken symlink" in reasons["dangling.txt"]
    assert set(reasons) == {
        "empty.txt",
        "blank.md",
        "binary.txt",
        "broken.pdf",
        "image.png",
        "big.txt",
        "escape.txt",
        "sub/loop",
        "dangling.txt",
    }

    assistant = Assistant(settings, encoder=FakeEncoder())
    html = assistant.document_text("page.html")
    assert "Visible fact here." in html and "secret" not in html
    assert "Quillby bridge was opened in 1911" in assistant.document_text("doc.pdf")


def test_unreadable_file_is_skipped(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "perm"
    _write(folder / "ok.txt", "Readable text about the Quillby bridge.")
    _write(folder / "secret.txt", "Nobody may read this.")
    if os.geteuid() == 0:
        # root reads any file whatever its mode: make the read itself fail as it would for a user.
        real = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self.name == "secret.txt":
                raise PermissionError(13, "Permission denied")
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    else:
        (folder / "secret.txt").chmod(0)
    report = Assistant(settings, encoder=FakeEncoder()).ingest(folder)
    assert report.added == ["ok.txt"]
    assert [(s.file, s.reason) for s in report.skipped] == [
        ("secret.txt", "cannot read: Permission denied")
    ]


def test_missing_folder_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Assistant(settings, encoder=FakeEncoder()).ingest(tmp_path / "nope")


def test_index_folder_from_settings_is_used(settings: Settings, corpus: Path) -> None:
    Assistant(settings, encoder=FakeEncoder()).ingest()  # corpus_dir from settings
    assert (settings.index_dir / "manifest.json").is_file()
    assert (settings.index_dir / "chroma").is_dir()
    shutil.rmtree(settings.index_dir)
    with pytest.raises(IndexMismatchError, match="assistant ingest"):
        Assistant(settings, encoder=FakeEncoder()).retriever()


def test_a_passage_holding_a_quoted_phrase_is_retrieved_first(
    settings: Settings, corpus: Path
) -> None:
    assistant = Assistant(settings, encoder=FakeEncoder())
    assistant.ingest(corpus)
    question = 'Who told a briefing "We examined this report"?'
    hits = assistant.retriever().retrieve(question, 3)
    assert "We examined this report" in hits[0].passage.text
    assert hits[0].sources["quote"] == 1


def test_a_remembered_sentence_vector_is_the_one_the_encoder_gives(settings: Settings) -> None:
    from assistant.embedding import MiniLMEncoder, RememberingEncoder

    minilm = MiniLMEncoder(settings)
    texts = [line for p in sorted(SEEDS.iterdir()) for line in p.read_text().splitlines() if line]
    together = minilm.embed(texts)
    # MiniLM's vector of a text does not depend on the batch it is in (padding is masked out)
    assert (np.stack([minilm.embed([t])[0] for t in texts[:12]]) == together[:12]).all()
    embedded: list[str] = []

    class Counting:
        id = minilm.id

        def embed(self, batch: Sequence[str]) -> np.ndarray:
            embedded.extend(batch)
            return minilm.embed(batch)

        def count_tokens(self, batch: Sequence[str]) -> list[int]:
            return minilm.count_tokens(batch)

    remembering = RememberingEncoder(Counting(), size=len(texts))
    assert (remembering.embed(texts[:10]) == together[:10]).all()
    assert (remembering.embed(texts) == together).all()
    assert embedded == list(dict.fromkeys(texts))  # each text embedded once
    small = RememberingEncoder(Counting(), size=3)
    small.embed(texts[:5])
    assert (small.embed(texts[:1]) == together[:1]).all()  # forgotten, embedded again
