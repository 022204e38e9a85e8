"""One clock: FLEET_NOW fixes the start, then time advances; everything reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner import clock
from runner.clock import FixedStartClock, SystemClock
from runner.forge.local import LocalForge
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all

START = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_fixed_start_clock_starts_at_fleet_now_then_advances() -> None:
    ticks = Ticks()
    fixed = FixedStartClock(START, monotonic=ticks, wall=lambda: START - timedelta(days=400))
    ticks.value += 50  # time before the first reading does not count
    assert fixed.now() == START
    ticks.value += 4.5
    assert fixed.now() == START + timedelta(seconds=4)  # whole seconds
    ticks.value += 0.6
    assert fixed.now() == START + timedelta(seconds=5)
    assert fixed.skew == timedelta(days=400)


def test_system_clock_is_the_wall_clock() -> None:
    wall = datetime(2027, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    system = SystemClock(wall=lambda: wall)
    assert system.now() == wall.replace(microsecond=0)
    assert system.skew == timedelta(0)


def test_from_env_chooses_and_rejects_garbage() -> None:
    assert isinstance(clock.from_env({}), SystemClock)
    fixed = clock.from_env({"FLEET_NOW": "2026-11-24T10:30:00Z"})
    assert fixed.now() == START
    with pytest.raises(ValueError):
        clock.from_env({"FLEET_NOW": "yesterday"})


def test_workspace_now_is_a_live_reading(repo: Path) -> None:
    ws = open_workspace(repo, {"PATH": "/usr/bin:/bin", "FLEET_NOW": "2026-11-24T10:30:00Z"})
    assert ws.now == START
    assert isinstance(ws.clock, FixedStartClock)
    ws.clock._t0 = ws.clock._monotonic() - 3600  # as if an hour had passed
    assert ws.now == START + timedelta(hours=1)


def test_a_slow_run_is_recorded_with_its_duration(repo: Path) -> None:
    """The frozen clock recorded a 4.5 s run with started == ended."""
    task = repo / "tasks/t-001.yaml"
    text = task.read_text()
    head, _, rest = text.partition("steps:\n")
    _, _, tail = rest.partition("acceptance:\n")
    steps = [
        "mkdir -p ci",
        "printf '#!/bin/sh\\nsleep 1.3\\necho ok\\n' > ci/pipeline.sh",
        "chmod +x ci/pipeline.sh",
        "sh ci/pipeline.sh",
    ]
    task.write_text(
        head + "steps:\n" + "".join(f"  - {s!r}\n" for s in steps) + "acceptance:\n" + tail
    )
    commit_all(repo, "a slow pipeline")
    env = {"PATH": "/usr/bin:/bin", "FLEET_FORGE": "local", "FLEET_NOW": "2026-11-24T10:30:00Z"}
    ws = open_workspace(repo, env)
    outcome = execute(ws, open_forge(ws), "devops", "t-001", trigger="test", client_factory=None)
    record = outcome.record
    assert record.outcome == "done", record.reason
    assert clock.parse(record.started) >= START
    assert clock.parse(record.ended) > clock.parse(record.started)  # slept 2 x 1.3 s


def test_local_forge_timestamps_follow_the_clock(repo: Path) -> None:
    ws = open_workspace(repo, {"PATH": "/usr/bin:/bin", "FLEET_NOW": "2026-11-24T10:30:00Z"})
    ticks = Ticks()
    forge = LocalForge(ws.ledger.store, FixedStartClock(START, monotonic=ticks).now)
    issue = forge.escalate(
        role="devops", task="t-001", kind="decision", title="t", body="b", assignees=()
    )
    ticks.value += 90
    forge.comment(issue.id, "later")
    record = ws.ledger.store.read_json("forge/issues/devops/t-001/decision.json")
    assert record["created"] == "2026-11-24T10:30:00Z"
    assert record["comments"][-1]["created"] == "2026-11-24T10:31:30Z"
    assert forge.cursor() == "2026-11-24T10:31:30Z"


def test_task_new_honours_fleet_now(example: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_NOW", "2031-05-06T23:59:59Z")
    result = fleet_cli(
        "-C", str(example), "task", "new", "--role", "cto", "--title", "x", "--review", "y"
    )
    assert result.exit_code == 0, result.output
    assert "created: '2031-05-06'" in (example / "tasks/t-013.yaml").read_text()


def test_task_new_refuses_a_bad_fleet_now(example: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_NOW", "soon")
    result = fleet_cli(
        "-C", str(example), "task", "new", "--role", "cto", "--title", "x", "--review", "y"
    )
    assert result.exit_code == 2
    assert "FLEET_NOW" in result.output


WALL_CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def wall_clock_reads(source: str) -> list[int]:
    """Lines that read the wall clock directly (`datetime.now()`, `time.time()`, ...)."""
    import ast

    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (name, node.func.attr) in WALL_CLOCK_READS:
                lines.append(node.lineno)
    return lines


def test_only_the_clock_reads_the_wall_clock() -> None:
    runner = Path(clock.__file__).parent
    offenders = {
        str(path.relative_to(runner)): found
        for path in runner.rglob("*.py")
        if path.name != "clock.py" and (found := wall_clock_reads(path.read_text()))
    }
    assert offenders == {}, "read time through the workspace's Clock (runner/clock.py)"


def test_the_scan_sees_each_way_of_reading_it() -> None:
    sample = "datetime.now(UTC)\ndatetime.datetime.utcnow()\ntime.time()\ndate.today()\n"
    assert wall_clock_reads(sample) == [1, 2, 3, 4]
    assert wall_clock_reads("time.monotonic()\nclock.now(environ)\n") == []
