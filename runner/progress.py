"""The live progress comment: one per run, created once and edited as the run goes.

What it shows is computed from the run's transcript (`state`, pure): the task's checks as
a checklist that ticks as acceptance passes, the current step, turns and cost against
the limits, and at the end the outcome with its links. `Reporter` posts it: it watches
the transcript, edits the comment at most once every `interval_s` seconds (whatever
happened in between is batched into the next edit), and never lets a forge error fail
the run (the error is noted in the transcript; after three in a row it stops trying).

Who may post it is a trust decision (docs/security.md, "the progress comment"): the
one-process run posts it live, since that process already holds the write credential
and runs agent commands only in the jail; the agent job of the two-phase split holds no
write credential and posts nothing, and the apply job posts the final state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.agent.cost import USAGE_KEYS, Usage
from runner.bodies import transcript_line
from runner.fmt import usd
from runner.forge.base import Forge
from runner.model import Price, Task
from runner.neutralize import for_post, inline_code
from runner.records import RunRecord
from runner.secretscan import Secret, redact
from runner.transcript import Transcript

MAX_FAILURES = 3  # forge errors in a row before the reporter stops trying


@dataclass(frozen=True)
class Limits:
    max_turns: int
    budget_usd: float
    price: Price | None


def key(run_id: str) -> str:
    """The comment's marker key: one comment per run."""
    return f"progress-{run_id}"


def state(task: Task, entries: Sequence[dict[str, Any]], limits: Limits) -> dict[str, Any]:
    """What the comment shows now, from the transcript's (redacted) entries."""
    usage = Usage()
    turns = 0
    results: dict[str, bool] = {}
    step = "starting"
    for entry in entries:
        kind = entry.get("kind")
        if kind == "turn":
            turns += 1
            got = entry.get("usage") or {}
            usage.add(Usage(**{k: int(got.get(k, 0) or 0) for k in USAGE_KEYS}))
            step = f"model turn {turns}"
        elif kind == "tool":
            step = f"tool {entry.get('name')}: {_short(entry.get('input'))}"
        elif kind == "command":
            step = f"{entry.get('phase')} command: {_short(entry.get('command'))}"
        elif kind == "acceptance":
            step = "acceptance checks"
            for r in entry.get("results", []):
                if isinstance(r, dict) and r.get("passed") is not None:
                    results[str(r.get("text"))] = bool(r.get("passed"))
    return {
        "checks": [(c.text, results.get(c.text)) for c in task.checks],
        "reviews": [r.text for r in task.reviews],
        "step": step,
        "turns": turns,
        "max_turns": limits.max_turns,
        "cost_usd": usage.cost(limits.price),
        "budget_usd": limits.budget_usd,
    }


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def render(
    run_id: str,
    role: str,
    now: dict[str, Any],
    end: dict[str, Any] | None = None,
    note: str = "",
) -> str:
    """The comment: `end` (outcome, reason, links) once the run is over; then every
    check is ticked or marked failed (a check that never ran has failed to pass). `note`
    (the runner's words, e.g. fleet demo's "replayed") goes under the heading."""
    head = "finished" if end else "working"
    lines = [f"**fleet run `{run_id}`** ({role}): {head}", ""]
    if note:
        lines += [f"_{for_post(note, 300)}_", ""]
    lines.append("#### Acceptance")
    for text, passed in now["checks"]:
        if passed:
            lines.append(f"- [x] {inline_code(text)}")
        elif passed is False or end:
            why = "failed" if passed is False else "failed: not run"
            lines.append(f"- [ ] {inline_code(text)} ({why})")
        else:
            lines.append(f"- [ ] {inline_code(text)}")
    lines += [f"- [ ] review: {for_post(r, 300)} (for the reviewer)" for r in now["reviews"]]
    lines += [
        "",
        f"**Turns** {now['turns']} of {now['max_turns']} · **cost** {usd(now['cost_usd'])} "
        f"of {usd(now['budget_usd'])}",
    ]
    if end is None:
        lines.append(f"**Now:** {for_post(now['step'], 200)}")
    else:
        reason = f": {for_post(end.get('reason', ''), 300)}" if end.get("reason") else ""
        lines.append(f"**Outcome:** {end.get('outcome')}{reason}")
        links = end.get("links") or {}
        for name in ("pr", "issue", "branch"):
            if links.get(name):
                lines.append(f"- {name}: {links[name]}")
        lines.append(f"- {transcript_line(run_id)}")
    return "\n".join(lines)


@dataclass
class Reporter:
    """Posts one run's progress comment, throttled; never raises a forge error."""

    forge: Forge
    run_id: str
    role: str
    task: Task
    limits: Limits
    transcript: Transcript
    clock: Callable[[], datetime]
    interval_s: float
    secrets: Sequence[Secret] = ()
    target: str | None = None  # the PR (or issue) it goes on; None: held until one exists
    note: str = ""  # said under the heading (fleet demo: a replayed session)
    posts: int = 0
    failures: int = 0
    _last: datetime | None = None
    _dirty: bool = True
    _seen: int = field(default=0, repr=False)

    def start(self) -> None:
        self.transcript.listeners.append(self.changed)
        self.flush(force=True)

    def changed(self) -> None:
        self._dirty = True
        self.flush()

    def retarget(self, target: str | None) -> None:
        """The PR exists now: the held comment goes there (on the next flush)."""
        if target and target != self.target:
            self.target, self._dirty = target, True

    def flush(self, force: bool = False, end: dict[str, Any] | None = None) -> None:
        if self.target is None or self.failures >= MAX_FAILURES or not (self._dirty or end):
            return
        now = self.clock()
        due = self._last is None or (now - self._last).total_seconds() >= self.interval_s
        if not (due or force):
            return  # batched into the next edit
        entries = self.transcript.to_dict(self.secrets)["entries"]
        now_state = state(self.task, entries, self.limits)
        body = redact(render(self.run_id, self.role, now_state, end, self.note), self.secrets)
        self._dirty, self._last = False, now
        try:
            self.forge.progress_comment(self.target, key(self.run_id), body)
        except Exception as exc:  # the comment is a courtesy: the run goes on without it
            self.failures += 1
            self._note(f"progress comment not updated ({type(exc).__name__}: {exc})"[:300])
            return
        self.posts += 1
        self.failures = 0

    def finish(self, outcome: str, reason: str, links: dict[str, str]) -> None:
        """The final edit: the outcome and its links, whatever the throttle says."""
        self.transcript.listeners[:] = [f for f in self.transcript.listeners if f != self.changed]
        end = {"outcome": outcome, "reason": reason, "links": links}
        pr = links.get("pr") and _pr_ref(links["pr"])
        if pr and self.target and pr != self.target and self.posts:
            self.flush(force=True, end=end)  # the issue's comment ends with the outcome too
        self.retarget(pr)
        self.flush(force=True, end=end)

    def _note(self, text: str) -> None:
        listeners = list(self.transcript.listeners)
        self.transcript.listeners.clear()  # the note itself must not trigger a post
        try:
            self.transcript.note(text)
        finally:
            self.transcript.listeners.extend(listeners)


def first_target(forge: str, role: str, task: Task, runs: Sequence[RunRecord]) -> str | None:
    """Where the comment goes from the start: the local forge's PR record (kept whether
    or not the PR is open yet), the PR an earlier run of the task opened (a draft this
    run resumes), else the issue the task was drafted from. None: held until this run
    opens its PR (no request spent looking)."""
    if forge == "local":
        return f"local-pr:{role}/{task.id}"
    earlier = [r for r in runs if r.task == task.id and r.role == role and r.links.get("pr")]
    if earlier:
        return _pr_ref(earlier[-1].links["pr"])
    return f"#{task.issue}" if task.issue else None


def final(
    forge: Forge,
    target: str,
    task: Task,
    record: RunRecord,
    entries: Sequence[dict[str, Any]],
    limits: Limits,
    secrets: Sequence[Secret],
) -> bool:
    """The apply job's one post: the run's final state, from the transcript apply cleaned
    and the record it wrote. False (and nothing raised) when the forge refused it."""
    end = {"outcome": record.outcome, "reason": record.reason, "links": record.links}
    body = render(record.run_id, record.role, state(task, entries, limits), end)
    try:
        forge.progress_comment(target, key(record.run_id), redact(body, secrets))
    except Exception:  # a courtesy: the run is published without it
        return False
    return True


def _pr_ref(link: str) -> str:
    """A PR's id from its link: `#12` from a GitHub URL, a local id as it is."""
    tail = link.rstrip("/").rsplit("/", 1)[-1]
    return f"#{tail}" if "/pull/" in link and tail.isdigit() else link
