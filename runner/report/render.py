"""Status as text (terminal tables, colour on a TTY) and markdown (job summary, issue,
weekly report). Both read the same `Status`; neither computes anything."""

from __future__ import annotations

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


def render(status: Status, *, markdown: bool, colour: bool = False, limit: int = 20) -> str:
    def paint(text: str, name: str) -> str:
        return f"\033[{_COLOURS[name]}m{text}\033[0m" if colour else text

    def heading(text: str) -> str:
        return f"\n### {text}" if markdown else "\n" + paint(text, "bold")

    t = status.totals
    lines = [
        f"## fleet {status.fleet}: status at {status.now}"
        if markdown
        else paint(f"fleet {status.fleet}: status at {status.now}", "bold"),
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
            ("\n**PAUSED**: " if markdown else "\n" + paint("PAUSED", "bold") + ": ")
            + f"{status.paused}; no role runs until it is lifted."
        )
    if status.problems:
        lines.append(heading(f"Broken task files, not planned ({len(status.problems)})"))
        lines += _table(
            ["file", "line", "problem"],
            [[p.path, str(p.line), f"{p.message} [{p.code}]"] for p in status.problems],
            markdown,
        )
        lines.append(("\n" if markdown else "") + "Fix them; 'fleet validate' lists every error.")
    blocked = status.blocked_on_human
    lines.append(heading(f"Blocked on a human ({len(blocked)})"))
    if blocked:
        rows = [
            [e.kind, e.id, e.task or "-", e.role or "-", _hours(e.age_hours), question(e)]
            for e in blocked[:limit]
        ]
        lines += _table(["kind", "issue", "task", "role", "age", "question"], rows, markdown)
    else:
        lines.append("Nothing waits on a human.")
    lines.append(heading(f"Stuck past their SLA ({len(status.stuck)})"))
    if status.stuck:
        lines += _table(
            ["task", "state", "in state", "SLA", "role", "why"],
            [
                [
                    r.id,
                    r.state,
                    paint(_hours(r.age_hours), "red"),
                    _hours(r.sla_hours),
                    r.role,
                    clip(r.reason, 60),
                ]
                for r in status.stuck[:limit]
            ],
            markdown,
        )
    else:
        lines.append("Nothing is stuck.")
    lines.append(heading("Roles"))
    lines += _table(
        ["role", "last run", "outcome", "next", "runs/7d", "commits/7d", "PRs/7d", "spent today"],
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
        markdown,
    )
    lines.append(heading("Tasks by state"))
    counts = ", ".join(
        f"{s} {len(status.by_state.get(s, []))}" for s in STATE_ORDER if status.by_state.get(s)
    )
    lines.append(counts or "No tasks.")
    active = [r for s in STATE_ORDER[:4] for r in status.by_state.get(s, [])]
    active.sort(key=lambda r: -(r.age_hours or 0))
    if active:
        lines += _table(
            ["task", "state", "in state", "role", "title"],
            [
                [r.id, _state(r, paint), _hours(r.age_hours), r.role, clip(r.title, 50)]
                for r in active[:limit]
            ],
            markdown,
        )
        if len(active) > limit:
            lines.append(("\n" if markdown else "") + f"... and {len(active) - limit} more")
    lines.append(heading("Cost per day"))
    if status.cost_per_day:
        lines += _table(
            ["day", "total", "by role"],
            [
                [
                    day,
                    _money(sum(roles.values())),
                    ", ".join(f"{k} {_money(v)}" for k, v in sorted(roles.items())),
                ]
                for day, roles in list(status.cost_per_day.items())[-14:]
            ],
            markdown,
        )
    else:
        lines.append("No spend in the period.")
    if t.input_tokens or t.cache_read_tokens:
        lines.append(
            ("\n" if markdown else "")
            + f"Tokens: {t.input_tokens + t.cache_read_tokens + t.cache_write_tokens:,} "
            f"in ({t.cache_share:.0%} from cache), {t.output_tokens:,} out."
        )
    if status.throughput:
        lines.append(heading("Throughput per week"))
        lines += _table(
            ["week", "tasks completed", "PRs merged"],
            [[w, str(c["completed"]), str(c["merged"])] for w, c in status.throughput.items()],
            markdown,
        )
    if status.changes:
        lines.append(heading(f"Changed since the last status ({len(status.changes)})"))
        lines += [f"- {c}" for c in status.changes[:limit]]
        if len(status.changes) > limit:
            lines.append(f"- ... and {len(status.changes) - limit} more")
    return "\n".join(lines) + "\n"


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
