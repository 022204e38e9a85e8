"""Status as text (terminal tables, colour on a TTY) and markdown (job summary, issue,
weekly report). Both read the same `Status`; neither computes anything."""

from __future__ import annotations

from dataclasses import dataclass

from runner.fmt import clip, usd
from runner.report.status import EscalationRow, Status, TaskRow

STATE_ORDER = ("in_progress", "review", "blocked", "open", "done", "cancelled")
_COLOURS = {"red": "31", "yellow": "33", "green": "32", "bold": "1", "dim": "2"}


def _hours(h: float | None) -> str:
    if h is None:
        return "-"
    if h < 48:
        return f"{h:.0f}h"
    return f"{h / 24:.1f}d"


def _money(x: float | None) -> str:
    return "-" if x is None else usd(x)


def _table(headers: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
        return out
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return out


@dataclass(frozen=True)
class _Style:
    """How every section is written, so each section is one small function: markdown
    (job summary, issue, weekly report) or terminal text, coloured only on a TTY."""

    markdown: bool
    colour: bool
    limit: int  # rows per long table

    def paint(self, text: str, name: str) -> str:
        return f"\033[{_COLOURS[name]}m{text}\033[0m" if self.colour else text

    def heading(self, text: str) -> str:
        return f"\n### {text}" if self.markdown else "\n" + self.paint(text, "bold")

    def table(self, headers: list[str], rows: list[list[str]]) -> list[str]:
        return _table(headers, rows, self.markdown)

    def para(self, text: str) -> str:
        """A line after a table: markdown needs a blank line to end the table."""
        return ("\n" if self.markdown else "") + text


def render(status: Status, *, markdown: bool, colour: bool = False, limit: int = 20) -> str:
    s = _Style(markdown, colour, limit)
    sections = (_summary, _problems, _waiting, _roles, _tasks, _spend, _changes)
    return "\n".join(line for section in sections for line in section(status, s)) + "\n"


def _summary(status: Status, s: _Style) -> list[str]:
    t = status.totals
    lines = [
        f"## fleet {status.fleet}: status at {status.now}"
        if s.markdown
        else s.paint(f"fleet {status.fleet}: status at {status.now}", "bold"),
        f"Period since {status.since}: {t.tasks_completed} task(s) completed, "
        f"{t.prs_opened} PR(s) opened / {t.prs_merged} merged, "
        f"{t.escalations_opened} escalation(s) opened / {t.escalations_resolved} resolved, "
        f"{t.commits_agents} agent / {t.commits_humans} human commit(s), "
        f"{t.delegations} delegation(s), {t.runs} run(s), cost {_money(t.cost_usd)}"
        + (
            f" ({_money(t.cost_per_completed_task)} per completed task)"
            if t.cost_per_completed_task is not None
            else ""
        )
        + ".",
    ]
    if status.paused:
        lines.append(
            ("\n**PAUSED**: " if s.markdown else "\n" + s.paint("PAUSED", "bold") + ": ")
            + f"{status.paused}; no role runs until it is lifted."
        )
    return lines


def _problems(status: Status, s: _Style) -> list[str]:
    if not status.problems:
        return []
    return [
        s.heading(f"Broken task files, not planned ({len(status.problems)})"),
        *s.table(
            ["file", "line", "problem"],
            [[p.path, str(p.line), f"{p.message} [{p.code}]"] for p in status.problems],
        ),
        s.para("Fix them; 'fleet validate' lists every error."),
    ]


def _waiting(status: Status, s: _Style) -> list[str]:
    """What needs a person: escalations waiting on one, tasks past their SLA."""
    blocked = status.blocked_on_human
    lines = [s.heading(f"Blocked on a human ({len(blocked)})")]
    if blocked:
        rows = [
            [e.kind, e.id, e.task or "-", e.role or "-", _hours(e.age_hours), question(e)]
            for e in blocked[: s.limit]
        ]
        lines += s.table(["kind", "issue", "task", "role", "age", "question"], rows)
    else:
        lines.append("Nothing waits on a human.")
    lines.append(s.heading(f"Stuck past their SLA ({len(status.stuck)})"))
    if not status.stuck:
        return [*lines, "Nothing is stuck."]
    return lines + s.table(
        ["task", "state", "in state", "SLA", "role", "why"],
        [
            [
                r.id,
                r.state,
                s.paint(_hours(r.age_hours), "red"),
                _hours(r.sla_hours),
                r.role,
                clip(r.reason, 60),
            ]
            for r in status.stuck[: s.limit]
        ],
    )


def _roles(status: Status, s: _Style) -> list[str]:
    return [
        s.heading("Roles"),
        *s.table(
            [
                "role",
                "last run",
                "outcome",
                "next",
                "runs/7d",
                "commits/7d",
                "PRs/7d",
                "spent today",
            ],
            [
                [
                    r.name,
                    (r.last_run or "never")[:16],
                    r.last_outcome or "-",
                    r.next_task or "-",
                    str(r.runs_week),
                    str(r.commits_week),
                    str(r.prs_week),
                    f"{_money(r.spent_today)} of {_money(r.daily_budget)}",
                ]
                for r in status.roles
            ],
        ),
    ]


def _tasks(status: Status, s: _Style) -> list[str]:
    counts = ", ".join(
        f"{st} {len(status.by_state.get(st, []))}" for st in STATE_ORDER if status.by_state.get(st)
    )
    lines = [s.heading("Tasks by state"), counts or "No tasks."]
    active = [r for st in STATE_ORDER[:4] for r in status.by_state.get(st, [])]
    active.sort(key=lambda r: -(r.age_hours or 0))
    if active:
        lines += s.table(
            ["task", "state", "in state", "role", "title"],
            [
                [r.id, _state(r, s.paint), _hours(r.age_hours), r.role, clip(r.title, 50)]
                for r in active[: s.limit]
            ],
        )
        if len(active) > s.limit:
            lines.append(s.para(f"... and {len(active) - s.limit} more"))
    return lines


def _spend(status: Status, s: _Style) -> list[str]:
    """Cost per day, tokens and weekly throughput: what the fleet cost and what it did."""
    t = status.totals
    lines = [s.heading("Cost per day")]
    if status.cost_per_day:
        lines += s.table(
            ["day", "total", "by role"],
            [
                [
                    day,
                    _money(sum(roles.values())),
                    ", ".join(f"{k} {_money(v)}" for k, v in sorted(roles.items())),
                ]
                for day, roles in list(status.cost_per_day.items())[-14:]
            ],
        )
    else:
        lines.append("No spend in the period.")
    if t.input_tokens or t.cache_read_tokens:
        lines.append(
            s.para(
                f"Tokens: {t.input_tokens + t.cache_read_tokens + t.cache_write_tokens:,} "
                f"in ({t.cache_share:.0%} from cache), {t.output_tokens:,} out."
            )
        )
    if status.throughput:
        lines.append(s.heading("Throughput per week"))
        lines += s.table(
            ["week", "tasks completed", "PRs merged"],
            [[w, str(c["completed"]), str(c["merged"])] for w, c in status.throughput.items()],
        )
    return lines


def _changes(status: Status, s: _Style) -> list[str]:
    if not status.changes:
        return []
    lines = [s.heading(f"Changed since the last status ({len(status.changes)})")]
    lines += [f"- {c}" for c in status.changes[: s.limit]]
    if len(status.changes) > s.limit:
        lines.append(f"- ... and {len(status.changes) - s.limit} more")
    return lines


def question(e: EscalationRow, limit: int = 72) -> str:
    """The escalation's question without what the role and task columns already say
    ("[fleet] <role>: ... (<task>)"), cut at a word boundary."""
    text = " ".join(e.title.split())
    prefix = f"[fleet] {e.role}: " if e.role else "[fleet] "
    text = text.removeprefix(prefix)
    text = text.removesuffix(f" ({e.task or 'no task'})")
    return clip(text, limit)


def _state(row: TaskRow, paint) -> str:
    if row.breached:
        return paint(row.state + " (SLA!)", "red")
    return row.state
