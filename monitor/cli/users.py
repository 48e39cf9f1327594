"""`monitor users add|list|disable|token`: who may sign in; `monitor audit`: every write."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import ConfigOption, DbOption, JsonOption
from monitor.cli.session import Session, UsageProblem, WorkFailed, print_json, rich_console

users_app = typer.Typer(no_args_is_help=True, help="Users who sign in: admin, office, unit.")


def _who() -> str:
    """The CLI's caller in the audit log: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (containers): still say it came from the CLI
        return "cli"


def _audit(s: Session, action: str, status: int, detail: dict[str, object]) -> None:
    from monitor.dates import utcnow

    s.store.audit(
        utcnow(), _who(), action, role="cli", address="local", status=status, detail=detail
    )


@users_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="admin, office or unit.")],
    unit: Annotated[
        list[str] | None,
        typer.Option("--unit", help="A unit (主办单位, as in the roster) a unit user answers for."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user; a unit user sees only its units' accounts, alerts and report rows.

    Without --password-stdin the user cannot sign in to the dashboard until it has one;
    it can still use an API token (`monitor users token`).

    Example: monitor users add 石泉县教育局 --role unit --unit 石泉县教育局 --password-stdin < pw.txt
    """
    from monitor.credentials import PasswordProblem, check_password_rules, hash_password
    from monitor.dates import utcnow
    from monitor.store import ROLES

    name = name.strip()
    if not name or len(name) > 200 or any(c in name for c in "\r\n\t\x00"):
        raise UsageProblem("NAME: give a name of 1 to 200 characters on one line")
    if role not in ROLES:
        raise UsageProblem(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    units = tuple(dict.fromkeys(u.strip() for u in unit or () if u.strip()))
    if role == "unit" and not units:
        raise UsageProblem("--unit: a unit user needs at least one --unit")
    if role != "unit" and units:
        raise UsageProblem(f"--unit: only unit users are limited to units ({role} sees all)")
    password_hash = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            check_password_rules(password)
        except PasswordProblem as exc:
            raise UsageProblem(f"--password-stdin: {exc}") from exc
        password_hash = hash_password(password)
    s = Session(ctx, db, config)
    try:
        store = s.store
        unknown = [u for u in units if store.unit_id(u) is None]
        if unknown:
            raise WorkFailed(
                f"--unit: no unit named {', '.join(map(repr, unknown))} in the roster "
                "(see `monitor units`)"
            )
        with store.transaction():
            if store.user(name) is not None:
                raise WorkFailed(f"a user named {name!r} exists already")
            store.add_user(name, role, units, password_hash, utcnow())
            _audit(s, "users add", 201, {"name": name, "role": role, "units": list(units)})
    finally:
        s.close()
    sys.stdout.write(f"user {name} added ({role}{': ' + ', '.join(units) if units else ''})\n")


@users_app.command("list")
def list_users(
    ctx: typer.Context,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List users: role, units, whether they have a password or a token, disabled or not.

    Example: monitor users list --json
    """
    from monitor.records import user_record

    s = Session(ctx, db, config)
    records = [user_record(u, s.tz) for u in s.store.users()]
    s.close()
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    table = Table()
    for column in ("name", "role", "units", "password", "token", "state"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r["name"],
            r["role"],
            ", ".join(r["units"]),
            "yes" if r["has_password"] else "no",
            "yes" if r["has_token"] else "no",
            "active" if r["active"] else f"disabled {r['disabled_at'][:10]}",
        )
    console = rich_console()
    console.print(table)
    console.print(f"{len(records)} user(s)")


@users_app.command("disable")
def disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user to disable.")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Disable a user: its sessions end and its API token stops working at once.

    Example: monitor users disable 石泉县教育局
    """
    from monitor.dates import utcnow

    s = Session(ctx, db, config)
    try:
        with s.store.transaction():
            found = s.store.disable_user(name, utcnow())
            if found:
                _audit(s, "users disable", 200, {"name": name})
    finally:
        s.close()
    if not found:
        raise WorkFailed(f"no user named {name!r} (see `monitor users list`)")
    sys.stdout.write(f"user {name} disabled\n")


@users_app.command("token")
def token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user the token is for.")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a new API token for a user, once (only its hash is kept; the old one stops working).

    Use it as `Authorization: Bearer <token>`.

    Example: monitor users token 石泉县教育局 > 石泉县教育局.token
    """
    from monitor.credentials import digest, new_secret
    from monitor.dates import utcnow

    secret = new_secret()
    s = Session(ctx, db, config)
    try:
        with s.store.transaction():
            user = s.store.user(name)
            if user is None:
                raise WorkFailed(f"no user named {name!r} (see `monitor users list`)")
            if not user.active:
                raise WorkFailed(f"user {name!r} is disabled")
            s.store.replace_token(user.id, digest(secret), utcnow())
            _audit(s, "users token", 201, {"name": name})
    finally:
        s.close()
    sys.stdout.write(secret + "\n")


@app.command("audit")
def audit(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100_000, help="Newest entries.")
    ] = 100,
    who: Annotated[str | None, typer.Option("--who", help="Only this user's entries.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log, newest first: every write through the API, dashboard and `monitor users`.

    Example: monitor audit --json --limit 20
    """
    from monitor.records import audit_record

    s = Session(ctx, db, config)
    rows, total = s.store.audit_entries(limit=limit, who=who)
    records = [audit_record(r, s.tz) for r in rows]
    s.close()
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    table = Table()
    for column in ("at", "who", "role", "address", "action", "status", "detail"):
        table.add_column(column)
    for r in records:
        table.add_row(
            (r["at"] or "")[:19].replace("T", " "),
            r["who"],
            r["role"] or "",
            r["address"] or "",
            r["action"],
            str(r["status"] or ""),
            ", ".join(f"{k}={v}" for k, v in r["detail"].items()),
        )
    console = rich_console()
    console.print(table)
    console.print(f"{len(records)} of {total} entr{'y' if total == 1 else 'ies'}")


app.add_typer(users_app, name="users")
