"""Hostile: markup typed in a question (or carried by a file name) is shown as text in the chat,
never rendered: no HTML element, no Markdown image, no LaTeX, no breaking out of the HTML block.
The chat component of the real app is driven through Gradio's own pre/postprocessing."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from assistant.schema import Answer, Citation
from assistant.ui import build_app, history_turns, render_answer
from tests.support import fake_assistant

HOSTILE = [
    '<img src="http://127.0.0.1:7999/tracking-pixel.png">',
    "![pixel](http://127.0.0.1:7999/md-pixel.png) **bold**",
    "Who?\n\n<img src=x onerror=alert(1)>\n\n![p](http://127.0.0.1:7999/p.png)",
    '</div><script>alert(1)</script><div class="x">',
    "$$\\href{http://127.0.0.1:7999}{x}$$ &amp; &lt;b&gt;",
]


@pytest.fixture(scope="module")
def chatbot(tmp_path_factory: pytest.TempPathFactory) -> gr.Chatbot:
    app = build_app(fake_assistant(tmp_path_factory.mktemp("markup"), lambda _: {"claims": []}))
    (chat,) = [b for b in app.blocks.values() if isinstance(b, gr.Chatbot)]
    return chat


def shown(chatbot: gr.Chatbot, history: list[dict[str, Any]]) -> list[str]:
    """The text of each message as the page receives it."""
    data = chatbot.postprocess(history).model_dump()
    return [part["text"] for message in data for part in message["content"]]


@pytest.mark.parametrize("question", HOSTILE)
def test_a_question_reaches_the_page_as_escaped_text(chatbot: gr.Chatbot, question: str) -> None:
    (text,) = shown(chatbot, [{"role": "user", "content": question}])
    # One HTML element with no line break inside: Markdown never starts again within it (a
    # blank line would end the HTML block), so "![p](url)" stays text too.
    assert text.startswith("<div") and text.endswith("</div>")
    assert "\n" not in text and "\r" not in text
    inner = re.sub(r"^<div[^>]*>|</div>$", "", text)
    assert "<" not in inner.replace("<br>", "")  # no element but line breaks
    assert html.unescape(inner.replace("<br>", "\n")) == question.strip()


@pytest.mark.parametrize("question", HOSTILE)
def test_the_question_comes_back_unchanged(chatbot: gr.Chatbot, question: str) -> None:
    """What the page sends back (history for follow-ups, retry, undo) is the typed text."""
    history = [
        {"role": "user", "content": question},
        {"role": "assistant", "content": '<div class="answer-text">An answer.</div>'},
    ]
    payload = chatbot.data_model(root=chatbot.postprocess(history).model_dump())
    back = chatbot.preprocess(payload)
    assert back[0]["content"][0]["text"] == question.strip()
    assert history_turns(back) == [(question.strip(), "An answer.")]
    # Twice round the loop: never escaped twice.
    again = chatbot.preprocess(chatbot.data_model(root=chatbot.postprocess(back).model_dump()))
    assert again[0]["content"][0]["text"] == question.strip()


def test_latex_is_not_rendered_in_the_chat(chatbot: gr.Chatbot) -> None:
    assert chatbot.latex_delimiters == []


def test_a_file_name_cannot_break_out_of_the_answer_html(tmp_path: Path) -> None:
    name = "a\n\n![p](http://127.0.0.1:7999/p.png)\r\r<img src=x>.txt"
    cite = Citation(file=name, start=0, end=4, quote="49\n\nkilled ![q](http://x/q.png)", line=1)
    out = render_answer(
        Answer(question="q", text="49 died. [1]\n\nSecond line.", citations=[cite], model="m")
    )
    assert "\n" not in out and "\r" not in out
    assert "<img" not in out and "&lt;img src=x&gt;" in out
    assert "49 died." in out and "<br><br>Second line." in out
