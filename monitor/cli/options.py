"""Options shared by several commands, declared once."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

R = TypeVar("R")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database file (else MONITOR_DB, else the config, else ./monitor.db)."
    ),
]
ConfigOption = Annotated[
    str | None, typer.Option("--config", help="Config file (TOML; else MONITOR_CONFIG).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Judge as of this date (YYYY-MM-DD, configured zone); default today."
    ),
]
ZombieOption = Annotated[
    str | None,
    typer.Option("--zombie-after", help="Zombie window, e.g. 14d, 1mo (default from config)."),
]
SuspendedOption = Annotated[
    str | None, typer.Option("--suspended-after", help="Suspension window, e.g. 6mo.")
]
WarnOption = Annotated[
    str | None,
    typer.Option("--warn-before", help="Warn this long before the zombie window, e.g. 3d."),
]
EvidenceOption = Annotated[
    str | None,
    typer.Option("--evidence-max-age", help="Older evidence makes a verdict unknown, e.g. 3d."),
]


@dataclass(frozen=True, slots=True)
class PolicyFlags:
    """The policy flags as given (None: from the configuration)."""

    zombie_after: str | None = None
    suspended_after: str | None = None
    warn_before: str | None = None
    evidence_max_age: str | None = None


_POLICY_PARAMS = (
    ("zombie_after", ZombieOption),
    ("suspended_after", SuspendedOption),
    ("warn_before", WarnOption),
    ("evidence_max_age", EvidenceOption),
)


def policy_options(command: Callable[..., R]) -> Callable[..., R]:
    """Give a command the four policy flags, handed to it as one `policy_flags: PolicyFlags`."""
    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.name != "policy_flags"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in _POLICY_PARAMS
    ]
    # Keyword-only parameters go last, before none: typer reads them all as options.
    positional = [p for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    keyword = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        flags = PolicyFlags(**{name: kwargs.pop(name, None) for name, _ in _POLICY_PARAMS})
        return command(*args, policy_flags=flags, **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*positional, *keyword, *extra]
    )
    wrapper.__annotations__ = {p.name: p.annotation for p in (*positional, *keyword, *extra)}
    return wrapper


def one_of(flag: str, value: str | None, allowed: type[StrEnum], what: str) -> str | None:
    """`value` when it is one of the enum's values (or None); else a usage error naming `flag`."""
    from monitor.cli.session import UsageProblem

    names = [x.value for x in allowed]
    if value is not None and value not in names:
        raise UsageProblem(f"{flag}: unknown {what} {value!r} (use {', '.join(names)})")
    return value
