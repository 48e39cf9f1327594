"""Every command shows an example in its help and is written up in the docs (as sqlite-utils does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from monitor.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(
    p.read_text(encoding="utf-8")
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


def commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group (typer's own, not always click's)
            if command.callback is not None or command.invoke_without_command:
                out.append((path, command))
            out += commands(command, f"{path} ")
        else:
            out.append((path, command))
    return out


ALL = commands(typer.main.get_command(app))


def test_the_cli_has_its_commands():
    names = {path for path, _ in ALL}
    assert {"import", "status", "check", "observe", "report", "run", "serve", "demo"} <= names
    assert {"config check", "alerts ack"} <= names


@pytest.mark.parametrize(("path", "command"), ALL, ids=[p for p, _ in ALL])
def test_every_command_has_an_example_in_its_help(path, command):
    text = command.help or ""
    assert "Example:" in text, f"`monitor {path} --help` shows no example"
    example = text.split("Example:", 1)[1].strip().splitlines()[0]
    assert example.startswith(f"monitor {path}"), example


@pytest.mark.parametrize(("path", "command"), ALL, ids=[p for p, _ in ALL])
def test_every_command_is_in_the_docs(path, command):
    assert f"monitor {path}" in DOCS, f"`monitor {path}` is not mentioned in README.md or docs/"
