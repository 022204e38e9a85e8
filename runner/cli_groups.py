"""`fleet`'s command groups (task, runs, local, ledger): parse and dispatch, like
`cli.py`, which adds them to the top-level group. Command modules are imported inside
each command so `fleet --help` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runner.cli_base import STATES, Context, pass_ctx
from runner.records import RUN_OUTCOMES


@click.group()
def task() -> None:
    """Create, inspect, retry and cancel tasks."""


@task.command("new")
@click.option("--role", required=True, help="Role that does the task.")
@click.option("--title", required=True, help="One line saying what is to be done.")
@click.option("--check", "checks", multiple=True, help="Acceptance command (repeatable).")
@click.option("--review", "reviews", multiple=True, help="Acceptance item for the reviewer.")
@click.option("--description", default="", help="What to do and why.")
@click.option("--priority", type=click.Choice(["urgent", "high", "normal", "low"]))
@click.option("--depends-on", "depends_on", multiple=True, help="Task id (repeatable).")
@click.option("--id", "task_id", default=None, help="Task id (default: next free t-NNN).")
@click.option(
    "--step", "steps", multiple=True, help="Command a shell-engine role runs (repeatable)."
)
@pass_ctx
def task_new(
    ctx: Context,
    role: str,
    title: str,
    checks: tuple[str, ...],
    reviews: tuple[str, ...],
    description: str,
    priority: str | None,
    depends_on: tuple[str, ...],
    task_id: str | None,
    steps: tuple[str, ...],
) -> None:
    """Write tasks/<id>.yaml with the next free id. Acceptance criteria are required; a
    shell-engine role's task also needs --step. A file that would fail `fleet validate`
    is not written."""
    from runner.commands import task_new as command

    sys.exit(
        command.run(
            ctx.root(),
            role=role,
            title=title,
            checks=checks,
            reviews=reviews,
            description=description,
            priority=priority,
            depends_on=depends_on,
            task_id=task_id,
            steps=steps,
        )
    )


@task.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only tasks in STATE.")
@click.option("--role", default=None, help="Only this role's tasks.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def task_list(ctx: Context, state: str | None, role: str | None, fmt: str) -> None:
    """List tasks with their derived state and the reason for it."""
    from runner.commands import task_list as command

    sys.exit(command.run(ctx.root(), state=state, role=role, fmt=fmt))


@task.command("show")
@click.argument("task_id", metavar="ID")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def task_show(ctx: Context, task_id: str, fmt: str) -> None:
    """One task: state and reason, runs with cost, PR, escalations, the last delta."""
    from runner.commands import task_show as command

    sys.exit(command.run(ctx.root(), task_id=task_id, fmt=fmt))


@task.command("retry")
@click.argument("task_id", metavar="ID")
@click.option(
    "--force", is_flag=True, help="Also abandon a run that may still be live (its job is dead)."
)
@pass_ctx
def task_retry(ctx: Context, task_id: str, force: bool) -> None:
    """Clear a stuck task: mark its dead `running` run abandoned, close its failure and
    loop escalations. Questions (credential, decision, blocked) stay open for an answer."""
    from runner.commands import task_retry as command

    sys.exit(command.run(ctx.root(), task_id=task_id, force=force))


@task.command("cancel")
@click.argument("task_id", metavar="ID")
@click.option("--reason", default="", help="Why; recorded in the task file and the commit.")
@pass_ctx
def task_cancel(ctx: Context, task_id: str, reason: str) -> None:
    """Cancel a task by committing `status: cancelled`: a PR on branch fleet-cancel/ID with
    the GitHub forge, a commit on the base branch with the local forge."""
    from runner.commands import task_cancel as command

    sys.exit(command.run(ctx.root(), task_id=task_id, reason=reason))


@click.group()
def runs() -> None:
    """The runs on the ledger and their transcripts (what each run did, step by step)."""


@runs.command("list")
@click.option("--role", default=None, help="Only this role's runs.")
@click.option("--task", default=None, help="Only runs on this task.")
@click.option(
    "--outcome",
    type=click.Choice(RUN_OUTCOMES),
    default=None,
    help="Only runs that ended so (done, escalated, ...).",
)
@click.option("--limit", default=20, show_default=True, help="Newest N runs (0: all).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def runs_list(
    ctx: Context, role: str | None, task: str | None, outcome: str | None, limit: int, fmt: str
) -> None:
    """List runs, newest first: outcome, turns, cost, whether a transcript is stored."""
    from runner.commands import runs as command

    sys.exit(
        command.list_runs(ctx.root(), role=role, task=task, outcome=outcome, limit=limit, fmt=fmt)
    )


@runs.command("show")
@click.argument("run_id", metavar="RUN_ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE (its directory must exist).",
)
@click.option("--full", is_flag=True, help="Show outputs whole (text format), not their start.")
@pass_ctx
def runs_show(ctx: Context, run_id: str, fmt: str, output: Path | None, full: bool) -> None:
    """One run and its transcript: each model turn, tool call, command with exit code and
    duration, usage, acceptance results (secrets redacted). RUN_ID may be a unique prefix."""
    from runner.commands import runs as command

    sys.exit(command.show(ctx.root(), run_id=run_id, fmt=fmt, output=output, full=full))


@runs.command("pages")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--limit", default=50, show_default=True, help="Newest N runs (0: all).")
@pass_ctx
def runs_pages(ctx: Context, directory: Path, limit: int) -> None:
    """Write DIRECTORY/<run_id>.html for each recent run with a transcript (next to the
    dashboard, which links to them)."""
    from runner.commands import runs as command

    sys.exit(command.pages(ctx.root(), directory=directory, limit=limit))


@click.group()
def local() -> None:
    """The human's side of the local forge: merge agent work, answer escalations."""


@local.command("merge")
@click.argument("pr")
@pass_ctx
def local_merge(ctx: Context, pr: str) -> None:
    """Merge the local agent PR PR (ROLE/TASK or local-pr:ROLE/TASK) into the base branch."""
    from runner.commands import local as command

    sys.exit(command.merge(ctx.root(), pr))


@local.command("answer")
@click.argument("issue")
@click.argument("text")
@click.option("--keep-open", is_flag=True, help="Reply without closing the escalation.")
@pass_ctx
def local_answer(ctx: Context, issue: str, text: str, keep_open: bool) -> None:
    """Answer the local escalation ISSUE with TEXT, and close it."""
    from runner.commands import local as command

    sys.exit(command.answer(ctx.root(), issue, text, keep_open))


@click.group()
def ledger() -> None:
    """The ledger on fleet-state: check and rebuild its index, migrate an old ledger,
    compact old records."""


@ledger.command("check")
@pass_ctx
def ledger_check(ctx: Context) -> None:
    """Verify the index and day roll-ups against the run records (exit 1 on a difference)."""
    from runner.commands import ledger as command

    sys.exit(command.run_check(ctx.root()))


@ledger.command("repair")
@pass_ctx
def ledger_repair(ctx: Context) -> None:
    """Rebuild the index and roll-ups from the run records, in one commit."""
    from runner.commands import ledger as command

    sys.exit(command.run_repair(ctx.root(), migrate=False))


@ledger.command("migrate")
@pass_ctx
def ledger_migrate(ctx: Context) -> None:
    """Index a ledger written before indexes (once; idempotent, safe to re-run)."""
    from runner.commands import ledger as command

    sys.exit(command.run_repair(ctx.root(), migrate=True))


@ledger.command("compact")
@click.option(
    "--keep-days",
    type=click.IntRange(min=7),
    default=None,
    help="Days of records to keep (default: ledger.keep_days in fleet.yaml).",
)
@pass_ctx
def ledger_compact(ctx: Context, keep_days: int | None) -> None:
    """Compact run records older than keep_days into monthly roll-ups (one commit; fleet
    tick does it on its own when ledger.keep_days is set)."""
    from runner.commands import ledger as command

    sys.exit(command.run_compact(ctx.root(), keep_days))


GROUPS = (task, runs, local, ledger)
