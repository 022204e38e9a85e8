"""`fleet ledger check | repair | migrate | compact`: the index against the records,
retention."""

from __future__ import annotations

from pathlib import Path

import click

from runner.errors import UsageError
from runner.ledger_admin import check, repair
from runner.ledger_retention import compact
from runner.workspace import open_workspace


def run_check(root: Path) -> int:
    ws = open_workspace(root, tasks=False)
    report = check(ws.ledger.store)
    if report.ok:
        click.echo(f"ledger ok: {report.records} run record(s), index consistent")
        return 0
    if not report.indexed:
        click.echo(
            f"ledger not migrated: {report.records} run record(s) and no complete index; "
            "commands read every record. Run 'fleet ledger migrate'."
        )
        return 1
    for line in report.lines():
        click.echo(line)
    click.echo(
        f"ledger index disagrees with its {report.records} run record(s) (an older runner "
        "wrote, or a hand edit); run 'fleet ledger repair' to rebuild it from the records."
    )
    return 1


def run_repair(root: Path, *, migrate: bool) -> int:
    ws = open_workspace(root, tasks=False)
    was = "migrate" if migrate else "repair"
    report = repair(ws.ledger.store, f"ledger: {was}: index the run records")
    if report.ok:
        state = "already migrated" if migrate else "nothing to repair"
        click.echo(f"ledger {state}: {report.records} run record(s), index consistent")
        return 0
    changed = len(report.missing) + len(report.wrong) + len(report.extra)
    click.echo(
        f"ledger {'migrated' if migrate else 'repaired'}: {report.records} run record(s), "
        f"{changed} index file(s) written or removed on {ws.ledger.store.branch}"
    )
    return 0


def run_compact(root: Path, keep_days: int | None) -> int:
    ws = open_workspace(root, tasks=False)
    keep = keep_days or ws.fleet.config.ledger_keep_days
    if keep is None:
        raise UsageError(
            "no retention set: give --keep-days N or set ledger.keep_days in fleet/fleet.yaml"
        )
    done = compact(ws.ledger.store, keep, ws.today)
    if not done.dropped:
        kept = f" but {len(done.kept)} record(s) a run still needs" if done.kept else ""
        click.echo(f"ledger: nothing older than {keep} day(s) to compact{kept}")
        return 0
    click.echo(
        f"ledger: compacted {done.dropped} run record(s) of {len(done.days)} day(s) "
        f"({done.days[0]} to {done.days[-1]}) into monthly roll-ups; kept {len(done.kept)} "
        "a run still needs (running, leased, or a task's last run not done)"
    )
    return 0
