"""`fleet`: parse arguments and dispatch to runner.commands. No logic lives here.

Command modules are imported inside each command so `fleet --help` stays fast and
never imports the model SDK or the GitHub client. Every command ends in one handler
(`FleetGroup.invoke`): a `FleetError` becomes one line saying what and what to do, with
its exit code; anything else is an internal error, reported in one line too. Tracebacks
only with `--debug` or FLEET_DEBUG=1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runner import __version__, heap
from runner.cli_base import FORMATS_FINDINGS, Context, FleetGroup, pass_ctx
from runner.cli_groups import GROUPS


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
    ctx.obj = Context(directory)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=FORMATS_FINDINGS, default="text", show_default=True)
@pass_ctx
def validate(ctx: Context, paths: tuple[str, ...], fmt: str) -> None:
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
    ctx: Context, roles: tuple[str, ...], task: str | None, force_due: tuple[str, ...], fmt: str
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
def sync(ctx: Context, role: str, since: str | None, fmt: str, cap_tokens: int) -> None:
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
    help="agent: run with no forge or ledger write, into --outputs (apply it with 'fleet apply'); "
    "needs --task, --run-id and --outputs.",
)
@click.option(
    "--outputs",
    "outputs_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The agent phase's outputs directory (created; what 'fleet apply' reads).",
)
@click.option("--run-id", default=None, help="The claimed run (fleet claim) the agent phase is.")
@pass_ctx
def run_cmd(
    ctx: Context,
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
    ctx: Context,
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
def apply_cmd(ctx: Context, directory: Path, run_id: str | None) -> None:
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
    ctx: Context, dry_run: bool, force_due: tuple[str, ...], trigger: str, no_event: bool
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
@click.option(
    "--outputs",
    "outputs_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The outputs directory the agent phase writes and the apply phase reads.",
)
@click.option("--run-id", default=None, help="The claimed run (agent and apply phases).")
@pass_ctx
def revise(
    ctx: Context, pr: int | None, phase: str, outputs_dir: Path | None, run_id: str | None
) -> None:
    """Revise an agent PR from review feedback by users with write access, or (for a
    check_suite / workflow_run event) from its failing CI run's log."""
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
def status(ctx: Context, fmt: str, since: str, output: Path | None, record: bool) -> None:
    """What is stuck, what waits on a human, what the fleet cost and shipped.

    `--since 7d --format markdown` is the weekly report."""
    from runner.commands import status as command

    sys.exit(command.run(ctx.root(), fmt=fmt, since=since, output=output, record=record))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Say what would be escalated or closed.")
@pass_ctx
def sla(ctx: Context, dry_run: bool) -> None:
    """Escalate SLA and budget breaches (once), and close them when work moves on."""
    from runner.commands import sla as command

    sys.exit(command.run(ctx.root(), dry_run=dry_run))


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_ctx
def doctor(ctx: Context, fmt: str) -> None:
    """Check git, the fleet files, credentials and the forge before the first run."""
    from runner.commands import doctor as command

    sys.exit(command.run(ctx.root(), fmt=fmt))


@cli.command()
@pass_ctx
def intake(ctx: Context) -> None:
    """Draft a task PR from the issue event that asks for one (label fleet:task or a
    write-access '@fleet <role> ...' comment), or commit the task to the base branch for
    a role with auto_assign: true; never runs a role. For the draft job of
    fleet-intake.yml (write token, no model key)."""
    from runner.commands import intake as command

    sys.exit(command.run(ctx.root()))


@cli.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build the demo fleet here and keep it (default: a temp dir, removed).",
)
def demo(keep: Path | None) -> None:
    """Try fleet-runner offline: build the example fleet in a temp repo and run it.

    The shell roles run for real; the cto runs the real model engine on a REPLAY of a
    recorded session (a loopback server; no key, no network), escalates, gets your
    answer through `fleet local answer`, and resumes to a PR."""
    from runner.commands import demo as command

    sys.exit(command.run(keep))


for _group in GROUPS:
    cli.add_command(_group)


def main(argv: list[str] | None = None) -> int:
    heap.own()
    try:
        cli.main(args=argv, prog_name="fleet", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
