"""`fleet`: parse arguments and dispatch to runner.commands. No logic lives here.

Command modules are imported inside each command so `fleet --help` stays fast and
never imports the model SDK or the GitHub client. Every command ends in one handler
(`FleetGroup.invoke`): a `FleetError` becomes one line saying what and what to do, with
its exit code; anything else is an internal error, reported in one line too. Tracebacks
only with `--debug` or FLEET_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from runner import __version__

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


class _Context:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def root(self) -> Path:
        from runner.load import find_root

        return find_root(self.directory)


pass_ctx = click.make_pass_decorator(_Context)


@click.group(cls=FleetGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    help="Run as if started in DIR (like git -C).",
)
@click.option(
    "--debug",
    is_flag=True,
    help="On an error, print the traceback too (or set FLEET_DEBUG=1).",
)
@click.version_option(__version__, prog_name="fleet")
@click.pass_context
def cli(ctx: click.Context, directory: Path, debug: bool) -> None:
    """A GitOps runner for a fleet of LLM role agents.

    Roles, directives and tasks are files in this repository; every agent output is a
    commit, a pull request or an escalation issue for a human to review.

    Exit codes: 0 ok, 1 findings or failure, 2 usage or configuration error.
    """
    if not directory.is_dir():
        raise click.UsageError(f"-C {directory}: no such directory")
    ctx.obj = _Context(directory)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=FORMATS_FINDINGS, default="text", show_default=True)
@pass_ctx
def validate(ctx: _Context, paths: tuple[str, ...], fmt: str) -> None:
    """Check fleet/ and tasks/ against the schemas and each other.

    With PATHS, report only findings in those files or directories (the whole fleet is
    still loaded, so cross-file checks such as unknown roles still apply).
    """
    from runner.commands import validate as command

    sys.exit(command.run(ctx.root(), paths, fmt, ctx.directory))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--example", is_flag=True, help="Write the 7-role example company fleet.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--name", default=None, help="Fleet name (default: the directory name).")
@click.option(
    "--runner-ref",
    default=None,
    metavar="OWNER/REPO@SHA",
    help="The runner action the workflows use, by 40-hex commit SHA (default: this release's).",
)
def init(
    directory: Path, example: bool, force: bool, name: str | None, runner_ref: str | None
) -> None:
    """Scaffold a fleet repository in DIRECTORY (default: here)."""
    from runner.commands import init as command

    sys.exit(command.run(directory, example=example, force=force, name=name, runner_ref=runner_ref))


@cli.group()
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
    ctx: _Context,
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
def task_list(ctx: _Context, state: str | None, role: str | None, fmt: str) -> None:
    """List tasks with their derived state and the reason for it."""
    from runner.commands import task_list as command

    sys.exit(command.run(ctx.root(), state=state, role=role, fmt=fmt))


@task.command("show")
@click.argument("task_id", metavar="ID")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def task_show(ctx: _Context, task_id: str, fmt: str) -> None:
    """One task: state and reason, runs with cost, PR, escalations, the last delta."""
    from runner.commands import task_show as command

    sys.exit(command.run(ctx.root(), task_id=task_id, fmt=fmt))


@task.command("retry")
@click.argument("task_id", metavar="ID")
@click.option(
    "--force", is_flag=True, help="Also abandon a run that may still be live (its job is dead)."
)
@pass_ctx
def task_retry(ctx: _Context, task_id: str, force: bool) -> None:
    """Clear a stuck task: mark its dead `running` run abandoned, close its failure and
    loop escalations. Questions (credential, decision, blocked) stay open for an answer."""
    from runner.commands import task_retry as command

    sys.exit(command.run(ctx.root(), task_id=task_id, force=force))


@task.command("cancel")
@click.argument("task_id", metavar="ID")
@click.option("--reason", default="", help="Why; recorded in the task file and the commit.")
@pass_ctx
def task_cancel(ctx: _Context, task_id: str, reason: str) -> None:
    """Cancel a task by committing `status: cancelled`: a PR on branch fleet-cancel/ID with
    the GitHub forge, a commit on the base branch with the local forge."""
    from runner.commands import task_cancel as command

    sys.exit(command.run(ctx.root(), task_id=task_id, reason=reason))


@cli.command()
@click.option("--role", "roles", multiple=True, help="Plan only this role (repeatable).")
@click.option("--task", default=None, help="Plan only this task (runs it if it is ready).")
@click.option(
    "--due", "force_due", multiple=True, help="Treat this role as due whatever its schedule."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "matrix"]),
    default="text",
    show_default=True,
    help="matrix: the JSON a GitHub Actions strategy.matrix consumes.",
)
@pass_ctx
def plan(
    ctx: _Context, roles: tuple[str, ...], task: str | None, force_due: tuple[str, ...], fmt: str
) -> None:
    """Show what each role would run now, and why every other task waits."""
    from runner.commands import plan as command

    sys.exit(command.run(ctx.root(), roles=roles, task=task, fmt=fmt, force_due=force_due))


@cli.command()
@click.argument("role")
@click.option("--since", default=None, help="Start from this revision instead of the checkpoint.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--max-tokens",
    "cap_tokens",
    type=click.IntRange(100, 100_000),
    default=1500,
    show_default=True,
    help="Cap on the rendered delta; the rest is counted.",
)
@pass_ctx
def sync(ctx: _Context, role: str, since: str | None, fmt: str, cap_tokens: int) -> None:
    """Show what changed for ROLE since its last completed run."""
    from runner.commands import sync as command

    sys.exit(command.run(ctx.root(), role=role, since=since, fmt=fmt, cap_tokens=cap_tokens))


@cli.command("run")
@click.option("--role", required=True, help="The role that works.")
@click.option("--task", default=None, help="The task (default: the planner's pick).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what would be sent or run (the first model request as the provider "
    "receives it, or the steps); call nothing.",
)
@click.option("--trigger", default="manual", show_default=True, help="Recorded in the ledger.")
@click.option(
    "--phase",
    type=click.Choice(["agent", "both"]),
    default="both",
    show_default=True,
    help="agent: run with no forge or ledger write, into --outputs (apply it with 'fleet apply').",
)
@click.option("--outputs", "outputs_dir", type=click.Path(path_type=Path), default=None)
@click.option("--run-id", default=None, help="The claimed run (fleet claim) the agent phase is.")
@pass_ctx
def run_cmd(
    ctx: _Context,
    role: str,
    task: str | None,
    dry_run: bool,
    trigger: str,
    phase: str,
    outputs_dir: Path | None,
    run_id: str | None,
) -> None:
    """Run ROLE on one task: work branch, acceptance, PR or escalation, ledger."""
    from runner.commands import run as command

    if phase == "agent":
        if not (task and run_id and outputs_dir):
            raise click.UsageError("--phase agent needs --task, --run-id and --outputs")
        root = ctx.root()
        sys.exit(
            command.run_agent(root, role=role, task=task, run_id=run_id, directory=outputs_dir)
        )
    sys.exit(command.run(ctx.root(), role=role, task=task, dry_run=dry_run, trigger=trigger))


@cli.command("claim")
@click.option("--role", default=None)
@click.option("--task", default=None)
@click.option(
    "--matrix",
    default=None,
    help="Claim every pick of a 'fleet plan --format matrix' matrix instead; the claimed "
    "matrix (each entry with its run_id) goes to the step outputs matrix and count.",
)
@click.option("--trigger", default="manual", show_default=True, help="Recorded in the ledger.")
@click.option("--dry-run", is_flag=True, help="With --matrix: pass the matrix on, claim nothing.")
@pass_ctx
def claim_cmd(
    ctx: _Context,
    role: str | None,
    task: str | None,
    matrix: str | None,
    trigger: str,
    dry_run: bool,
) -> None:
    """Record a run of ROLE on TASK as started and print its id (before the agent phase)."""
    from runner.commands import apply as command

    if matrix is not None:
        if role or task:
            raise click.UsageError("--matrix claims the matrix's picks: no --role or --task")
        sys.exit(
            command.run_claim_matrix(ctx.root(), matrix=matrix, trigger=trigger, dry_run=dry_run)
        )
    if not (role and task):
        raise click.UsageError("fleet claim needs --role and --task, or --matrix")
    sys.exit(command.run_claim(ctx.root(), role=role, task=task, trigger=trigger))


@cli.command("apply")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--run-id", default=None, help="The claimed run; required if DIR may be empty.")
@pass_ctx
def apply_cmd(ctx: _Context, directory: Path, run_id: str | None) -> None:
    """Review an agent phase's outputs DIR and publish what passes (no model, no agent code)."""
    from runner.commands import apply as command

    sys.exit(command.run(ctx.root(), directory=directory, run_id=run_id))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Plan and print prompts; call nothing.")
@click.option("--due", "force_due", multiple=True, help="Treat this role as due (repeatable).")
@click.option("--trigger", default="schedule", show_default=True, help="Recorded in the ledger.")
@click.option("--no-event", is_flag=True, help="Ignore GITHUB_EVENT_NAME: a plain tick.")
@pass_ctx
def tick(
    ctx: _Context, dry_run: bool, force_due: tuple[str, ...], trigger: str, no_event: bool
) -> None:
    """Plan, then run every role's pick in turn.

    Inside GitHub Actions (GITHUB_EVENT_NAME set) it does what the event asks: schedule,
    push, answered escalation, manual dispatch, review (revise), pull request
    (validate and comment the plan), a task asked for on an issue (label fleet:task, or
    a write-access comment '@fleet <role> ...': a task PR drafted from the issue), or a
    failed check suite / workflow run on an agent branch (one revision per failing head
    SHA, then one escalation)."""
    from runner.commands import revise
    from runner.commands import tick as command

    root = ctx.root()
    sys.exit(
        command.run(
            root,
            dry_run=dry_run,
            trigger=trigger,
            force_due=force_due,
            use_event=not no_event,
            revise=lambda pr: revise.run(root, pr=pr),
        )
    )


@cli.command()
@click.option(
    "--pr",
    type=int,
    default=None,
    help="The agent PR to revise (inside Actions: from the review event).",
)
@click.option(
    "--phase",
    type=click.Choice(["claim", "agent", "apply", "both"]),
    default="both",
    show_default=True,
    help="claim: check the feedback and claim the run (step output run_id); agent: run "
    "with no forge or ledger write, into --outputs; apply: publish --outputs.",
)
@click.option("--outputs", "outputs_dir", type=click.Path(path_type=Path), default=None)
@click.option("--run-id", default=None, help="The claimed run (agent and apply phases).")
@pass_ctx
def revise(
    ctx: _Context, pr: int | None, phase: str, outputs_dir: Path | None, run_id: str | None
) -> None:
    """Revise an agent PR from review feedback by users with write access."""
    from runner.commands import revise as command

    root = ctx.root()
    if phase == "claim":
        sys.exit(command.run_claim(root, pr=pr))
    if phase in ("agent", "apply"):
        if not (pr and run_id and outputs_dir):
            raise click.UsageError(f"--phase {phase} needs --pr, --run-id and --outputs")
        split = command.run_agent if phase == "agent" else command.run_apply
        sys.exit(split(root, pr=pr, run_id=run_id, directory=outputs_dir))
    sys.exit(command.run(root, pr=pr))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    show_default=True,
)
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="The period: a duration (24h, 7d, 2w) or a date (2026-11-01).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE instead of standard output.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Save this status on fleet-state; the next one lists what changed.",
)
@pass_ctx
def status(ctx: _Context, fmt: str, since: str, output: Path | None, record: bool) -> None:
    """What is stuck, what waits on a human, what the fleet cost and shipped.

    `--since 7d --format markdown` is the weekly report."""
    from runner.commands import status as command

    sys.exit(command.run(ctx.root(), fmt=fmt, since=since, output=output, record=record))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Say what would be escalated or closed.")
@pass_ctx
def sla(ctx: _Context, dry_run: bool) -> None:
    """Escalate SLA and budget breaches (once), and close them when work moves on."""
    from runner.commands import sla as command

    sys.exit(command.run(ctx.root(), dry_run=dry_run))


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def doctor(ctx: _Context, fmt: str) -> None:
    """Check git, the fleet files, credentials and the forge before the first run."""
    from runner.commands import doctor as command

    sys.exit(command.run(ctx.root(), fmt=fmt))


@cli.command()
@pass_ctx
def intake(ctx: _Context) -> None:
    """Draft a task PR from the issue event that asks for one (label fleet:task or a
    write-access '@fleet <role> ...' comment); never runs a role. For the tick
    workflow's intake job (write token, no model key)."""
    from runner.commands import intake as command

    sys.exit(command.run(ctx.root()))


@cli.group()
def runs() -> None:
    """The runs on the ledger and their transcripts (what each run did, step by step)."""


@runs.command("list")
@click.option("--role", default=None, help="Only this role's runs.")
@click.option("--task", default=None, help="Only runs on this task.")
@click.option("--outcome", default=None, help="Only runs that ended so (done, escalated, ...).")
@click.option("--limit", default=20, show_default=True, help="Newest N runs (0: all).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def runs_list(
    ctx: _Context, role: str | None, task: str | None, outcome: str | None, limit: int, fmt: str
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
def runs_show(ctx: _Context, run_id: str, fmt: str, output: Path | None, full: bool) -> None:
    """One run and its transcript: each model turn, tool call, command with exit code and
    duration, usage, acceptance results (secrets redacted). RUN_ID may be a unique prefix."""
    from runner.commands import runs as command

    sys.exit(command.show(ctx.root(), run_id=run_id, fmt=fmt, output=output, full=full))


@runs.command("pages")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--limit", default=50, show_default=True, help="Newest N runs (0: all).")
@pass_ctx
def runs_pages(ctx: _Context, directory: Path, limit: int) -> None:
    """Write DIRECTORY/<run_id>.html for each recent run with a transcript (next to the
    dashboard, which links to them)."""
    from runner.commands import runs as command

    sys.exit(command.pages(ctx.root(), directory=directory, limit=limit))


@cli.group()
def local() -> None:
    """The human's side of the local forge: merge agent work, answer escalations."""


@local.command("merge")
@click.argument("pr")
@pass_ctx
def local_merge(ctx: _Context, pr: str) -> None:
    """Merge the local agent PR PR (ROLE/TASK or local-pr:ROLE/TASK) into the base branch."""
    from runner.commands import local as command

    sys.exit(command.merge(ctx.root(), pr))


@local.command("answer")
@click.argument("issue")
@click.argument("text")
@click.option("--keep-open", is_flag=True, help="Reply without closing the escalation.")
@pass_ctx
def local_answer(ctx: _Context, issue: str, text: str, keep_open: bool) -> None:
    """Answer the local escalation ISSUE with TEXT, and close it."""
    from runner.commands import local as command

    sys.exit(command.answer(ctx.root(), issue, text, keep_open))


@cli.group()
def ledger() -> None:
    """The ledger on fleet-state: check and rebuild its index, migrate an old ledger,
    compact old records."""


@ledger.command("check")
@pass_ctx
def ledger_check(ctx: _Context) -> None:
    """Verify the index and day roll-ups against the run records (exit 1 on a difference)."""
    from runner.commands import ledger as command

    sys.exit(command.run_check(ctx.root()))


@ledger.command("repair")
@pass_ctx
def ledger_repair(ctx: _Context) -> None:
    """Rebuild the index and roll-ups from the run records, in one commit."""
    from runner.commands import ledger as command

    sys.exit(command.run_repair(ctx.root(), migrate=False))


@ledger.command("migrate")
@pass_ctx
def ledger_migrate(ctx: _Context) -> None:
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
def ledger_compact(ctx: _Context, keep_days: int | None) -> None:
    """Compact run records older than keep_days into monthly roll-ups (one commit; fleet
    tick does it on its own when ledger.keep_days is set)."""
    from runner.commands import ledger as command

    sys.exit(command.run_compact(ctx.root(), keep_days))


@cli.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build the demo fleet here and keep it (default: a temp dir, removed).",
)
def demo(keep: Path | None) -> None:
    """Try fleet-runner offline: build the example fleet in a temp repo and run it."""
    from runner.commands import demo as command

    sys.exit(command.run(keep))


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="fleet", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
