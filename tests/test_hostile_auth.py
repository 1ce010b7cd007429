"""Hostile: the UI password. Never on argv (visible in `ps`), at least 12 characters, compared in
constant time, and every failed attempt for a name slows the next one down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import fake_assistant
from tests.test_ui import free_port

GOOD = "correct horse battery"


def auth_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "ui-auth"
    path.write_text(content)
    path.chmod(mode)
    return path


def run_ui(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `assistant ui` process (it would serve forever if it accepted the arguments)."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", "ui", "--port", str(free_port()), *args],
        env={k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_password_on_the_command_line_is_refused(tmp_path: Path) -> None:
    done = run_ui(tmp_path, "--auth", "alice:wonderland")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "--auth-file" in done.stderr and "ps" in done.stderr
    assert "wonderland" not in done.stderr  # never echoed back


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("a:b", "too short (1 characters); use at least 12"),
        ("alice:wonderland", "too short (10 characters); use at least 12"),
        ("alice", "must hold one line USER:PASSWORD"),
        (f":{GOOD}", "must hold one line USER:PASSWORD"),
        ("", "must hold one line USER:PASSWORD"),
    ],
)
def test_weak_or_malformed_auth_files_are_refused(
    tmp_path: Path, content: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.ui import load_credentials

    path = auth_file(tmp_path, content + "\n")
    with pytest.raises(SystemExit) as exc:
        load_credentials(path)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(path) in err
    password = content.partition(":")[2]
    if len(password) > 3:
        assert password not in err  # never echoed back


def test_an_auth_file_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.ui import load_credentials

    path = auth_file(tmp_path, f"alice:{GOOD}\n", mode=0o644)
    with pytest.raises(SystemExit):
        load_credentials(path)
    assert f"chmod 600 {path}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        load_credentials(tmp_path / "missing")


def test_a_good_auth_file_is_read(tmp_path: Path) -> None:
    from assistant.ui import load_credentials

    assert load_credentials(auth_file(tmp_path, f" alice :{GOOD}:x\r\n")) == ("alice", GOOD + ":x")


def test_other_hosts_need_an_auth_file(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.ui import check_exposure

    with pytest.raises(SystemExit) as exc:
        check_exposure("0.0.0.0", None)
    assert exc.value.code == 2 and "--auth-file FILE" in capsys.readouterr().err
    check_exposure("0.0.0.0", ("alice", GOOD))
    check_exposure("127.0.0.1", None)


def test_the_check_compares_and_wrong_attempts_slow_down() -> None:
    from assistant.ui import password_check

    check = password_check(("alice", GOOD), base_delay=0.05, max_delay=0.4)

    async def timed(user: str, password: str) -> tuple[bool, float]:
        t = time.perf_counter()
        ok = await check(user, password)
        return ok, time.perf_counter() - t

    async def scenario() -> None:
        assert await timed("alice", GOOD) == (True, pytest.approx(0, abs=0.03))
        waits = [(await timed("alice", f"guess {n}"))[1] for n in range(6)]
        # The first failure is answered at once; each next one waits twice as long, capped.
        for got, want in zip(waits, [0, 0.05, 0.1, 0.2, 0.4, 0.4], strict=True):
            assert want <= got < want + 0.1
        # A burst in parallel is not faster: attempts for one name queue up.
        t = time.perf_counter()
        results = await asyncio.gather(*(check("alice", "burst") for _ in range(3)))
        assert results == [False] * 3 and time.perf_counter() - t >= 3 * 0.4
        # The right password still works (after the wait) and clears the count.
        assert (await timed("alice", GOOD))[0] is True
        assert (await timed("alice", "typo"))[1] < 0.03
        # Wrong names share one count: guessing names is throttled too.
        name_waits = [(await timed(f"user{n}", GOOD))[1] for n in range(4)]
        assert name_waits[-1] >= 0.2
        assert await check("Alice", GOOD) is False and await check("alice", GOOD + " ") is False

    asyncio.run(scenario())


def test_the_served_login_slows_down_wrong_passwords(tmp_path: Path) -> None:
    from assistant.ui import serve

    port = free_port()
    app = serve(
        fake_assistant(tmp_path, lambda _: {"claims": []}),
        "127.0.0.1",
        port,
        ("alice", GOOD),
        block=False,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            assert "Ask your documents" not in client.get("/").text  # the login page
            t = time.perf_counter()
            for n in range(4):
                assert (
                    client.post(
                        "/login", data={"username": "alice", "password": f"x{n}"}
                    ).status_code
                    == 400
                )
            assert time.perf_counter() - t >= 0.25 + 0.5 + 1.0
            ok = client.post("/login", data={"username": "alice", "password": GOOD})
            assert ok.status_code == 200 and ok.json() == {"success": True}
    finally:
        app.close()
