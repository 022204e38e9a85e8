"""The plan comment on a pull request that adds or changes tasks: who takes each task,
whether it is ready, what it may spend. The "open a PR to assign a task" experience."""

from __future__ import annotations

from runner import findings
from runner.changes import changed_tasks
from runner.fmt import usd
from runner.forge.base import Forge
from runner.load import load
from runner.workspace import Workspace


def plan_comment(ws: Workspace, forge: Forge) -> tuple[str, list[str]]:
    loaded = load(ws.root)
    changed = changed_tasks(ws)
    states = ws.states(ws.runs(), forge.view())
    lines = [
        "### fleet: the plan for this pull request",
        "",
        f"`fleet validate`: {findings.summary(loaded.findings, len(loaded.files))}"
        + (" (see the annotations on the changed lines)" if loaded.errors else ""),
        "",
    ]
    if not changed:
        lines.append("This pull request adds or changes no task.")
        return "\n".join(lines), []
    lines += [
        "| task | title | role | when it runs | budget per run |",
        "| --- | --- | --- | --- | --- |",
    ]
    for tid in changed:
        task = ws.fleet.tasks[tid]
        role = ws.fleet.roles.get(task.role)
        st = states.get(tid)
        if st is None or role is None:
            when = "not runnable (see findings)"
        elif st.state in ("done", "cancelled"):
            when = st.state
        elif st.state == "blocked":
            when = f"blocked: {st.reason}"
        elif not st.ready:
            when = "waits for " + ", ".join(st.waiting_on)
        else:
            when = "after merge: the merge triggers a run of this role"
        budget = (
            task.run_budget_usd
            if task.run_budget_usd is not None
            else (role.run_budget_usd if role else 0.0)
        )
        engine = f" ({role.engine})" if role else ""
        lines.append(
            f"| {tid} | {task.title.replace('|', '/')} | {task.role}{engine} | "
            f"{when} | {usd(budget)} |"
        )
    lines += ["", "Merging this pull request assigns these tasks."]
    return "\n".join(lines), changed
