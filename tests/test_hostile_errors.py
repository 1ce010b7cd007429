"""Hostile: what goes wrong around the assistant reaches the user as one sentence, never a trace.

Every such failure is an `AssistantError`; the CLI and the UI catch that one type. The
conditions are real: a read-only bind mount of the index (root only), an index folder deleted
while the UI runs, bad ASSISTANT_* values, an HTTP server that is not Ollama.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from assistant import Assistant
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.settings import Settings
from assistant.ui import build_app, launch, render_status
from tests.support import (
    FakeEncoder,
    Script,
    cite_sentence_with,
    fake_assistant,
    html_server,
    scripted_backend,
)
from tests.test_ui import free_port

ARIHA = "How many civilians were killed in the Ariha market attack?"
FACT = "The Zorbland river festival was first held in 1873 in the town of Quillby."


def one_sentence(result: Result) -> str:
    """A failed command printed exactly one line, and no trace."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def cite_either(*needles: str) -> Script:
    scripts = [cite_sentence_with(n) for n in needles]

    def script(prompt: str) -> dict[str, Any]:
        for s in scripts:
            if (reply := s(prompt))["claims"]:
                return reply
        return {"claims": []}

    return script


# -- bad settings --------------------------------------------------------------------------
COMMANDS = [["ask", ARIHA], ["ingest"], ["index"], ["settings"], ["chat"], ["eval"]]  # ui: below
BAD = [
    ("ASSISTANT_BACKEND", "olama", "is not valid: use one of auto, embedded, ollama, openai."),
    ("ASSISTANT_OLLAMA_TIMEOUT_S", "abc", "is not valid: use a number greater than 0."),
    ("ASSISTANT_CHUNK_TOKENS", "0", "is not valid: use a whole number greater than 0."),
    ("ASSISTANT_TOP_K", "-3", "is not valid: use a whole number greater than 0."),
    ("ASSISTANT_MAX_FILE_MB", "0", "is not valid: use a number greater than 0."),
    (
        "ASSISTANT_OLLAMA_HOST",
        "htp:/x",
        "is malformed: use a URL such as http://127.0.0.1:11434.",
    ),
    (
        "ASSISTANT_CHUNK_OVERLAP_TOKENS",
        "500",
        "is not valid: use fewer tokens than ASSISTANT_CHUNK_TOKENS (160).",
    ),
]


CASES = [(c, BAD[0]) for c in COMMANDS] + [(c, BAD[2]) for c in COMMANDS]
CASES += [(c, bad) for c in (["ask", ARIHA], ["settings"]) for bad in BAD if (c, bad) not in CASES]


@pytest.mark.parametrize(
    ("command", "bad"), CASES, ids=[f"{c[0]}-{b[0].removeprefix('ASSISTANT_')}" for c, b in CASES]
)
def test_a_bad_setting_is_one_sentence_in_every_command(
    command: list[str], bad: tuple[str, str, str]
) -> None:
    name, value, says = bad
    result = CliRunner().invoke(main, command, env={name: value})
    assert one_sentence(result) == f"Error: {name}='{value}' {says}"


def test_the_ui_command_refuses_a_bad_setting_before_serving(tmp_path: Path) -> None:
    """A real process (it would serve forever if the setting were accepted)."""
    env = {**os.environ, "ASSISTANT_CHUNK_TOKENS": "0", "GRADIO_ANALYTICS_ENABLED": "False"}
    port = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ui", "--port", port],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "Error: ASSISTANT_CHUNK_TOKENS='0' is not valid: use a whole number greater than 0.\n"
    )


def test_two_bad_settings_give_one_sentence_each() -> None:
    env = {"ASSISTANT_BACKEND": "olama", "ASSISTANT_CHUNK_TOKENS": "0"}
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "ASSISTANT_BACKEND='olama' is not valid" in result.output
    assert "ASSISTANT_CHUNK_TOKENS='0' is not valid" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 2


def test_good_host_spellings_are_accepted() -> None:
    for host in ["http://127.0.0.1:11434", "https://ollama.example.org", "127.0.0.1:11434"]:
        assert Settings(ollama_host=host).ollama_host == host


def test_the_ui_launch_says_it_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSISTANT_BACKEND", "olama")
    with pytest.raises(SystemExit) as exc:
        launch(host="127.0.0.1", port=0)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "Error: ASSISTANT_BACKEND='olama' is not valid: use one of auto, embedded, ollama, "
        "openai.\n"
    )


# -- the index folder ----------------------------------------------------------------------
def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def read_only_index(tmp_path: Path) -> Iterator[Settings]:
    """An index, copied and then bind-mounted read-only (EROFS), never opened in this process
    before: a later Chroma open is a first open, as in a new `assistant ask`."""
    built = fake_assistant(tmp_path / "built", cite_sentence_with("49"))
    index = tmp_path / "ro-index"
    shutil.copytree(built.settings.index_dir, index)
    if not _mount("--bind", str(index), str(index)):
        pytest.skip("needs mount (root): a read-only bind mount is the real condition")
    try:
        if not _mount("-o", "remount,bind,ro", str(index)):
            pytest.skip("cannot remount read-only")
        with pytest.raises(OSError, match="Read-only file system"):
            (index / "probe").touch()
        yield built.settings.model_copy(update={"index_dir": index})
    finally:
        subprocess.run(["umount", str(index)], check=True)


def read_only_sentence(index: Path) -> str:
    return (
        f"The index folder {index} is read-only; make it writable, or set ASSISTANT_INDEX_DIR "
        "to a folder you can write."
    )


def test_a_read_only_index_is_one_sentence_to_ask_and_ingest(read_only_index: Settings) -> None:
    assistant = Assistant(
        read_only_index, encoder=FakeEncoder(), backend=scripted_backend(cite_sentence_with("49"))
    )
    with pytest.raises(AssistantError) as asked:
        assistant.ask(ARIHA)
    assert str(asked.value) == read_only_sentence(read_only_index.index_dir)
    with pytest.raises(AssistantError) as ingested:
        assistant.ingest()
    assert str(ingested.value) == read_only_sentence(read_only_index.index_dir)


def test_a_read_only_index_in_the_cli(read_only_index: Settings) -> None:
    env = {
        "ASSISTANT_CORPUS_DIR": str(read_only_index.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(read_only_index.index_dir),
    }
    result = CliRunner().invoke(main, ["ingest"], env=env)
    assert one_sentence(result) == "Error: " + read_only_sentence(read_only_index.index_dir)


def test_an_index_path_that_is_a_file_is_one_sentence(tmp_path: Path, corpus: Path) -> None:
    taken = tmp_path / "index.txt"
    taken.write_text("not a folder")
    for index in [taken, taken / "index"]:
        env = {"ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(index)}
        line = one_sentence(CliRunner().invoke(main, ["ingest"], env=env))
        assert line.startswith(f"Error: The index folder {index} cannot be used (")
        assert line.endswith("); set ASSISTANT_INDEX_DIR to a folder you can write.")


def test_a_missing_corpus_folder_is_one_sentence(tmp_path: Path) -> None:
    env = {"ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
    line = one_sentence(CliRunner().invoke(main, ["ingest", str(tmp_path / "nope")], env=env))
    assert (
        line == f"Error: The folder {tmp_path / 'nope'} does not exist; pass a folder of documents."
    )


def handler(app: Any, name: str) -> Callable[..., Any]:
    """One of the app's own event handlers, by its function's name."""
    fns = [inspect.unwrap(f.fn) for f in app.fns.values() if f.fn is not None]
    return next(fn for fn in fns if getattr(fn, "__name__", "") == name)


def reply(respond: Callable[..., Any], question: str) -> str:
    *_, last = respond(question, [])
    return str(last[0])


def test_index_deleted_while_the_ui_runs(tmp_path: Path) -> None:
    assistant = fake_assistant(tmp_path, cite_either("49", "1873"))
    index = assistant.settings.index_dir
    app = build_app(assistant)
    respond, add = handler(app, "respond"), handler(app, "add_documents")
    assert "49 civilians" in reply(respond, ARIHA)

    shutil.rmtree(index)
    missing = reply(respond, ARIHA)
    assert "Could not answer." in missing and "Traceback" not in missing
    assert (
        f"The index folder {index} is missing; run `assistant ingest DIR` (or add documents) "
        "to build it again." in missing
    )
    assert "empty" in render_status(assistant)

    doc = tmp_path / "festival.txt"
    doc.write_text(FACT + "\n")
    result, status, _ = add([str(doc)])
    assert "Added" in result and "festival.txt" in result and "6 documents" in status
    assert "1873" in reply(respond, "When was the Zorbland river festival first held?")
    assert "49 civilians" in reply(respond, ARIHA)

    # On disk, not only in this process: Chroma was opened again in the new folder.
    count = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, chromadb; print(chromadb.PersistentClient(path=sys.argv[1])"
            ".get_collection('passages').count())",
            str(index / "chroma"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(count.stdout) == len(assistant.manifest().live_ids()) > 0


# -- an Ollama host that is not Ollama -----------------------------------------------------
PAGE = (
    b"<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Something else"
    b"</h1><p>This is a web server, not Ollama.</p></body></html>\n"
)


@pytest.fixture(params=[404, 200, 500])
def web_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    with html_server(request.param, PAGE) as url:
        yield url, request.param


def test_a_host_that_is_not_ollama_is_named_not_printed(
    tmp_path: Path, web_server: tuple[str, int]
) -> None:
    url, status = web_server
    indexed = fake_assistant(tmp_path, cite_sentence_with("49"))
    settings = indexed.settings.model_copy(update={"backend": "ollama", "ollama_host": url})
    with pytest.raises(AssistantError) as caught:
        Assistant(settings, encoder=FakeEncoder()).ask(ARIHA)
    assert str(caught.value) == (
        f"{url} answered, but it is not an Ollama server (HTTP {status}, text/html); "
        "check ASSISTANT_OLLAMA_HOST."
    )
