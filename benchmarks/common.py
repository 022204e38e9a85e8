"""Shared helpers for benchmarks: timing medians and synthetic fleets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from runner import scaffold

ROLES = ("ceo", "cto", "fullstack", "marketing", "research")  # anthropic roles of the example


def median_time(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_fleet(root: Path, tasks: int) -> list[Path]:
    """The example fleet plus `tasks` generated task files; returns the task paths."""
    files = scaffold.files(example=True, name="bench")
    scaffold.write(root, files)
    paths = []
    for i in range(tasks):
        task_id = f"b-{i:05d}"
        deps = f"depends_on: [b-{i - 1:05d}]\n" if i % 10 else ""
        path = root / "tasks" / "bench" / f"{task_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# yaml-language-server: $schema=../../schemas/task.schema.json\n"
            f"id: {task_id}\ntitle: Synthetic task {i}\nrole: {ROLES[i % len(ROLES)]}\n"
            f"priority: {('urgent', 'high', 'normal', 'low')[i % 4]}\n"
            f"created: 2026-{1 + i % 12:02d}-{1 + i % 28:02d}\n{deps}"
            "description: |\n  Do the thing described here, carefully, with tests.\n"
            "context: [README.md]\n"
            "acceptance:\n  - check: python -m pytest -q tests/test_x.py\n"
            "  - review: the change is small and documented\n"
        )
        paths.append(path)
    return paths
