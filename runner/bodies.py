"""The texts a run puts on the forge: the agent PR body and the escalation issue body.

Written for the human who reviews them: what was asked, what was done, the evidence,
and (for escalations) the exact question and how to answer it.
"""

from __future__ import annotations

from runner.acceptance import Report
from runner.agent.cost import Usage
from runner.model import RunRecord, Task


def pr_title(task: Task) -> str:
    return f"[fleet] {task.role}: {task.title} ({task.id})"


def pr_body(
    task: Task,
    record: RunRecord,
    usage: Usage,
    report: Report | None,
    summary: str,
    delta_markdown: str,
) -> str:
    lines = [f"**{task.role}** worked on **{task.id}: {task.title}**.", ""]
    if summary:
        lines += ["### Summary", summary, ""]
    lines += ["### Acceptance"]
    if report is None:
        lines.append("Not run yet.")
    else:
        lines.append(report.summary())
        for r in report.results:
            mark = "x" if r.ok else " "
            lines.append(f"- [{mark}] `{r.command}` (exit {r.exit_code}, {r.duration_s:.1f}s)")
    reviews = [a.text for a in task.reviews]
    if reviews:
        lines += ["", "### For the reviewer"] + [f"- [ ] {text}" for text in reviews]
    lines += [
        "",
        "### Run",
        "| run | outcome | turns | tokens in / out | cache hits | cost |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| `{record.run_id}` | {record.outcome} | {record.turns} | "
        f"{usage.prompt_tokens:,} / {usage.output_tokens:,} | {usage.cache_share:.0%} | "
        f"${record.cost_usd:.4f} |",
        "",
        "Merging this pull request completes the task (it sets `status: done`). Review "
        "comments from maintainers make the agent revise this branch.",
        "",
        "<details><summary>Sync delta the agent acted on</summary>",
        "",
        delta_markdown.strip(),
        "",
        "</details>",
    ]
    return "\n".join(lines)


def escalation_title(role: str, summary: str, task: str | None) -> str:
    first = " ".join(summary.split())[:80]
    return f"[fleet] {role}: {first} ({task or 'no task'})"


def escalation_body(
    role: str,
    task: Task | None,
    kind: str,
    summary: str,
    record: RunRecord | None,
    tried: str = "",
) -> str:
    lines = [
        f"The **{role}** agent needs a human ({kind}).",
        "",
        "### The question",
        summary.strip(),
        "",
    ]
    if task is not None:
        lines += [f"**Task:** {task.id}: {task.title}", ""]
    if tried:
        lines += ["### What was tried", tried.strip(), ""]
    if record is not None:
        lines += [f"**Run:** `{record.run_id}` ({record.outcome}: {record.reason})", ""]
    lines += [
        "### How to answer",
        "Reply here, then close the issue. The task stays blocked while this issue is "
        "open; your reply reaches the agent in its next sync delta.",
    ]
    return "\n".join(lines)


def run_summary(outcomes: list, title: str = "fleet runs") -> str:
    """The job summary: one row per run, what a founder checks first."""
    if not outcomes:
        return f"### {title}\n\nNothing ran."
    lines = [
        f"### {title}",
        "",
        "| role | task | outcome | PR / escalation | turns | tokens in / out | cost |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        r = o.record
        link = r.links.get("pr") or r.links.get("issue") or "-"
        usage = r.usage or {}
        prompt = sum(
            usage.get(k, 0)
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
        outcome = r.outcome + (f": {r.reason}" if r.reason else "")
        lines.append(
            f"| {r.role} | {r.task} | {outcome.replace('|', '/')} | {link} | "
            f"{r.turns} | {prompt:,} / {usage.get('output_tokens', 0):,} | "
            f"${r.cost_usd:.4f} |"
        )
    return "\n".join(lines)
