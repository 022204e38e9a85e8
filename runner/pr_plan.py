"""The plan comment on a pull request that adds or changes tasks: who takes each task,
whether it is ready, what it may spend. The "open a PR to assign a task" experience.

The task files come from the pull request (anyone's, a fork's too), so their text is
neutralised before the runner posts it: no mention, closing keyword or marker of theirs
goes out under the runner's name."""

from __future__ import annotations

from runner import findings
from runner.changes import changed_tasks
from runner.fmt import usd
from runner.forge.base import Forge
from runner.load import load
from runner.neutralize import for_post
from runner.sanitize import one_line
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
        title, who = (for_post(one_line(t, 200)).replace("|", "/") for t in (task.title, task.role))
        lines.append(f"| {tid} | {title} | {who}{engine} | {for_post(when)} | {usd(budget)} |")
    lines += ["", "Merging this pull request assigns these tasks."]
    return "\n".join(lines), changed
