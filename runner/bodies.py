"""The texts a run puts on the forge: the agent PR body and the escalation issue body.

Written for the human who reviews them: what was asked, what was done, the evidence,
and (for escalations) the exact question and how to answer it. Every piece the model or
an outsider wrote (the summary, the question, check output, the re-posted sync delta,
even task titles, which agents may propose) goes through `neutralize.for_post`: hidden
text and marker-like comments removed, mentions and closing keywords quoted, capped.
"""

from __future__ import annotations

from runner.acceptance import Report
from runner.agent.cost import Usage
from runner.fmt import usd
from runner.model import Task
from runner.neutralize import MAX_BODY, cap, for_post, inline_code, live_references
from runner.records import RunRecord
from runner.sanitize import one_line

SUMMARY_CAP = 4000  # a reviewer reads it in a minute
DELTA_CAP = 30_000


def pr_title(task: Task) -> str:
    return f"[fleet] {task.role}: {plain_title(task.title)} ({task.id})"


def plain_title(title: str, limit: int = 200) -> str:
    """A task title where the runner names the task itself (PR titles): one line, and
    neutralised when it holds a live mention or closing reference. `Fix #1: ...` is a
    normal title (and intake drafts titles from outsiders' issues), but a PR title is
    the squash commit's message, and apply refuses a title that could close an issue."""
    line = one_line(title, limit)
    return for_post(line) if live_references(line) else line


def commit_subject(head: str, title: str) -> str:
    """`head: title` for a commit the runner makes and pushes, or `head` alone when the
    title would close an issue on merge: commit messages are plain text to GitHub, so
    quoting cannot be relied on there."""
    line = one_line(title, 200)
    return head if live_references(line, mentions=False) else f"{head}: {line}"


def pr_body(
    task: Task,
    record: RunRecord,
    usage: Usage,
    report: Report | None,
    summary: str,
    delta_markdown: str,
) -> str:
    title = for_post(one_line(task.title, 200))
    lines = [f"**{task.role}** worked on **{task.id}: {title}**.", ""]
    if summary.strip():
        lines += ["### Summary", for_post(summary, SUMMARY_CAP), ""]
    lines += ["### Acceptance"]
    if report is None:
        lines.append("Not run yet.")
    else:
        lines.append(report.summary())
        for r in report.results:
            mark = "x" if r.ok else " "
            lines.append(
                f"- [{mark}] {inline_code(r.command)} (exit {r.exit_code}, {r.duration_s:.1f}s)"
            )
    reviews = [for_post(one_line(a.text, 500)) for a in task.reviews]
    if reviews:
        lines += ["", "### For the reviewer"] + [f"- [ ] {text}" for text in reviews]
    lines += [
        "",
        "### Run",
        "| run | outcome | turns | tokens in / out | cache hits | cost |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| `{record.run_id}` | {record.outcome} | {record.turns} | "
        f"{usage.prompt_tokens:,} / {usage.output_tokens:,} | {usage.cache_share:.0%} | "
        f"{usd(record.cost_usd)} |",
        "",
        transcript_line(record.run_id),
        "",
        "Merging this pull request completes the task (it sets `status: done`). Review "
        "comments from maintainers make the agent revise this branch.",
        "",
        "<details><summary>Sync delta the agent acted on</summary>",
        "",
        for_post(delta_markdown.strip(), DELTA_CAP),
        "",
        "</details>",
    ]
    return cap("\n".join(lines), MAX_BODY)


def transcript_line(run_id: str) -> str:
    """Where a run's transcript is: the ledger path its final commit writes it to (the
    id is the runner's own, never agent text)."""
    return (
        f"Transcript: `fleet runs show {run_id}` (on the `fleet-state` branch at "
        f"`transcripts/{run_id}.json.gz`)."
    )


def escalation_title(role: str, summary: str, task: str | None) -> str:
    return f"[fleet] {role}: {one_line(summary, 80)} ({task or 'no task'})"


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
        for_post(summary.strip(), SUMMARY_CAP),
        "",
    ]
    if task is not None:
        lines += [f"**Task:** {task.id}: {for_post(one_line(task.title, 200))}", ""]
    if tried:
        lines += ["### What was tried", for_post(tried.strip(), SUMMARY_CAP), ""]
    if record is not None:
        reason = for_post(one_line(f"{record.outcome}: {record.reason}", 300))
        lines += [f"**Run:** `{record.run_id}` ({reason})", ""]
    lines += [
        "### How to answer",
        "Reply here, then close the issue. The task stays blocked while this issue is "
        "open; your reply reaches the agent in its next sync delta.",
    ]
    return cap("\n".join(lines), MAX_BODY)


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
            f"{usd(r.cost_usd)} |"
        )
    stored = [o.record.run_id for o in outcomes if o.record.transcript.get("path")]
    if stored:
        lines += ["", "Transcripts: " + ", ".join(f"`fleet runs show {i}`" for i in stored)]
    return "\n".join(lines)
