"""Running `patron` in tests: in-process with Typer's runner, or as the installed script in a
subprocess (for what needs a real process: a terminal, a server, exit statuses as a shell sees
them)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from typer.testing import CliRunner, Result

from patron.cli.main import app

runner = CliRunner()


def patron(database_url: str, *args: str) -> Result:
    return runner.invoke(app, [*args, "--database-url", database_url])


def run(*args: str) -> Result:
    """`patron ARGS`, as given (no --database-url added)."""
    return runner.invoke(app, list(args))


def one_line(text: str) -> str:
    """The only line of `text`; fails if there are more (an error must fit on one line)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def unique_name() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


def patron_script() -> str:
    beside = Path(sys.executable).with_name("patron")
    found = str(beside) if beside.exists() else shutil.which("patron")
    assert found, "the `patron` script is not installed"
    return found


def script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [patron_script(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
