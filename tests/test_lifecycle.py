"""The derived state machine, case by case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.lifecycle import EscalationRef, ForgeView, PullRef, derive, derive_all
from runner.model import Acceptance, Task
from runner.records import RunRecord

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PR = PullRef("#7", "https://x/pull/7", "2026-11-24T08:00:00Z")
ESC = EscalationRef("#9", "credential", "https://x/issues/9", "2026-11-24T09:00:00Z")


def task(status: str = "open", deps: tuple[str, ...] = (), tid: str = "t-1") -> Task:
    return Task(tid, "T", "cto", (Acceptance("review", "ok"),), status=status, depends_on=deps)


def run(outcome: str, started: str = "2026-11-24T11:00:00Z") -> RunRecord:
    return RunRecord("r", "cto", "t-1", started, outcome=outcome)


LIVE = run("running")
DRAFT = PullRef("#7", "", "2026-11-24T08:00:00Z", True)
STALE = run("running", started="2026-11-24T01:00:00Z")
BRANCH = frozenset({"t-1"})
LEASED = frozenset({"r"})  # run r holds a live lease


@pytest.mark.parametrize(
    ("status", "runs", "forge", "state", "reason"),
    [
        ("open", [], ForgeView(), "open", "not started"),
        ("done", [LIVE], ForgeView(open_prs={"t-1": PR}), "done", "marked done"),
        ("cancelled", [], ForgeView(escalations={"t-1": (ESC,)}), "cancelled", "cancelled"),
        ("open", [], ForgeView(escalations={"t-1": (ESC,)}), "blocked", "escalation #9"),
        (
            "open",
            [],
            ForgeView(escalations={"t-1": (ESC,)}, open_prs={"t-1": PR}),
            "blocked",
            "credential",
        ),
        ("blocked", [], ForgeView(), "blocked", "marked blocked"),
        ("open", [], ForgeView(open_prs={"t-1": PR}), "review", "PR #7 awaits review"),
        # a draft PR is a stopped run's work: in progress, resumed by the next run
        (
            "open",
            [run("max_turns")],
            ForgeView(open_prs={"t-1": DRAFT}, branches=BRANCH),
            "in_progress",
            "draft PR #7; the last run ended max_turns; the next run resumes its branch",
        ),
        ("open", [], ForgeView(open_prs={"t-1": DRAFT}), "in_progress", "draft PR #7"),
        (
            "open",
            [LIVE],
            ForgeView(open_prs={"t-1": DRAFT}, live_runs=LEASED),
            "in_progress",
            "is running",
        ),
        ("open", [LIVE], ForgeView(live_runs=LEASED), "in_progress", "is running"),
        ("open", [STALE], ForgeView(live_runs=LEASED), "in_progress", "is running"),
        ("open", [LIVE], ForgeView(open_prs={"t-1": PR}), "review", "awaits review"),
        # a run whose lease is gone died, however recently it started: resumable at once
        ("open", [LIVE], ForgeView(branches=BRANCH), "in_progress", "never finished"),
        ("open", [LIVE], ForgeView(), "open", "last run ended running"),
        ("open", [STALE], ForgeView(branches=BRANCH), "in_progress", "never finished"),
        ("open", [STALE], ForgeView(), "open", "last run ended running"),
        ("open", [run("failed")], ForgeView(branches=BRANCH), "in_progress", "last run: failed"),
        ("open", [], ForgeView(branches=BRANCH), "in_progress", "work branch exists"),
        ("open", [run("model_unavailable")], ForgeView(), "open", "model_unavailable"),
        ("open", [run("dry_run")], ForgeView(), "open", "not started"),
    ],
)
def test_derive(status, runs, forge, state, reason) -> None:
    result = derive(task(status), runs, forge, NOW)
    assert result.state == state
    assert reason in result.reason


def test_a_draft_is_ready_to_resume_and_a_live_run_on_it_is_not() -> None:
    tasks = {"t-1": task()}
    stopped = derive_all(tasks, [run("budget")], ForgeView(open_prs={"t-1": DRAFT}), NOW)
    assert stopped["t-1"].ready and stopped["t-1"].live_run is None
    assert stopped["t-1"].since == "2026-11-24T11:00:00Z"
    live = derive_all(tasks, [LIVE], ForgeView(open_prs={"t-1": DRAFT}, live_runs=LEASED), NOW)
    assert live["t-1"].live_run == "r"


def test_readiness_follows_dependencies() -> None:
    tasks = {
        "a": task("done", tid="a"),
        "b": task(tid="b", deps=("a",)),
        "c": task(tid="c", deps=("b",)),
        "d": task(tid="d", deps=("missing",)),
    }
    states = derive_all(tasks, [], ForgeView(), NOW)
    assert states["b"].ready and not states["b"].waiting_on
    assert not states["c"].ready and states["c"].waiting_on == ("b",)
    assert states["d"].waiting_on == ("missing",)
    assert not states["a"].ready  # done tasks are not "ready"
