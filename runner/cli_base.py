"""What every `fleet` command shares: the one error handler (`FleetGroup.invoke`), the
context carrying `-C`, and the option values several commands accept. A leaf for the
CLI modules, so `cli.py` and `cli_groups.py` share it without importing each other."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

FORMATS_FINDINGS = click.Choice(["text", "json", "github"])
STATES = ("open", "in_progress", "review", "blocked", "done", "cancelled")  # lifecycle.STATES


class FleetGroup(click.Group):
    """The group whose `invoke` is the one error handler for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own: usage errors (exit 2), --help, --version, ^C
        except Exception as exc:
            _fail(exc, debug=bool(ctx.params.get("debug")) or _debug_env())


def _debug_env() -> bool:
    return os.environ.get("FLEET_DEBUG", "").strip().lower() in ("1", "true", "yes")


def _fail(exc: Exception, *, debug: bool) -> NoReturn:
    """Report `exc` in one line (plus what to do) and exit with its code."""
    from runner.errors import FleetError

    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, FleetError):
        message, code = str(exc) or type(exc).__name__, exc.exit_code
        hint = exc.hint
    elif isinstance(exc, OSError) and exc.strerror:  # the file system said no: not a bug
        where = f": {exc.filename}" if exc.filename else ""
        message, code, hint = f"{exc.strerror}{where}", 1, None
    else:
        message, code = f"internal error: {type(exc).__name__}: {exc}", 1
        hint = (
            "this is a bug in fleet-runner; run again with --debug (or FLEET_DEBUG=1) "
            "for the traceback, and report it"
        )
    if os.environ.get("GITHUB_ACTIONS") == "true":  # a job-level annotation
        from runner.findings import escape_data

        click.echo(f"::error title=fleet-runner::{escape_data(message)}")
    click.echo(f"fleet: {message}", err=True)
    if hint:
        click.echo(f"fleet: what to do: {hint}", err=True)
    # `from exc` keeps the cause on the exit, so the test CLI helper can fail on a bug
    raise SystemExit(code) from (None if isinstance(exc, FleetError) else exc)


class Context:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def root(self) -> Path:
        from runner.load import find_root

        return find_root(self.directory)


pass_ctx = click.make_pass_decorator(Context)
