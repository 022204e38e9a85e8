"""The dashboard: one self-contained HTML file (inline CSS and SVG, no script, no network)
that works opened from disk or published to GitHub Pages. Every text from a task, issue
or role is escaped: it is data that users and agents wrote."""

from __future__ import annotations

from html import escape

from runner.fmt import usd
from runner.report.status import Status

PALETTE = [
    "#4269d0",
    "#efb118",
    "#ff725c",
    "#6cc5b0",
    "#3ca951",
    "#ff8ab7",
    "#a463f2",
    "#97bbf5",
    "#9c6b4e",
    "#9498a0",
]
STATE_COLOURS = {
    "open": "#9498a0",
    "in_progress": "#4269d0",
    "review": "#efb118",
    "blocked": "#ff725c",
    "done": "#3ca951",
    "cancelled": "#cccccc",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}header{background:#1d2330;color:#fff;padding:16px 24px}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:0 0 8px}main{padding:16px 24px;
display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(520px,1fr))}
section{background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:14px 16px;
overflow:auto}.kpis{display:flex;flex-wrap:wrap;gap:18px}.kpi b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 6px;
border-bottom:1px solid #eef0f3;vertical-align:top}th{font-weight:600;color:#555}
.kind{font-weight:600}.credential{color:#c0392b}.muted{color:#777}svg text{font-size:11px;
fill:#333}.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;
width:10px;height:10px;margin-right:4px;vertical-align:middle}
.id{white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.over{color:#c0392b;font-weight:600}
"""


def render(status: Status) -> str:
    t = status.totals
    kpis = [
        ("completed", t.tasks_completed),
        ("PRs merged", t.prs_merged),
        ("waiting on you", len(status.blocked_on_human)),
        ("stuck", len(status.stuck)),
        ("cost", usd(t.cost_usd)),
        ("cache hits", f"{t.cache_share:.0%}"),
        ("agent / human commits", f"{t.commits_agents} / {t.commits_humans}"),
        ("delegations", t.delegations),
    ]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>fleet {escape(status.fleet)}: status</title><style>{CSS}</style></head><body>",
        f"<header><h1>fleet {escape(status.fleet)}</h1><div class=muted>status at "
        f"{escape(status.now)}, period since {escape(status.since)}</div></header><main>",
        (
            f"<section style='grid-column:1/-1' id=paused><h2 class=credential>Paused</h2>"
            f"{escape(status.paused)}; no role runs until it is lifted.</section>"
            if status.paused
            else ""
        ),
        "<section style='grid-column:1/-1'><div class=kpis>"
        + "".join(f"<div class=kpi><b>{escape(str(v))}</b>{escape(k)}</div>" for k, v in kpis)
        + "</div></section>",
        _problems(status),
        _escalations(status),
        _stuck(status),
        _roles(status),
        _by_state(status),
        _runs(status),
        _section("Cost per day per role", cost_chart(status), "cost"),
        _section("Throughput per week", throughput_chart(status), "throughput"),
        _section("Time in state per task", time_in_state_chart(status), "time-in-state"),
        _section("Task dependencies", dependency_graph(status), "dependencies"),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def _section(title: str, body: str, name: str) -> str:
    return f"<section id={name}><h2>{escape(title)}</h2>{body}</section>"


def _table(head: list[str], rows: list[str]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><tr>{cells}</tr>{''.join(rows)}</table>" if rows else "<p class=muted>None.</p>"


def _stuck(status: Status) -> str:
    rows = [
        f"<tr class=stuck><td class=id>{escape(r.id)}</td><td>{escape(r.state)}</td>"
        f"<td>{_hours(r.age_hours)}</td><td>{_hours(r.sla_hours)}</td><td>{escape(r.role)}</td>"
        f"<td>{escape(r.reason)}</td></tr>"
        for r in status.stuck
    ]
    body = _table(["task", "state", "in state", "SLA", "role", "why"], rows)
    return _section(f"Stuck past their SLA ({len(status.stuck)})", body, "stuck")


def _roles(status: Status) -> str:
    rows = []
    for r in status.roles:
        over = " class=over" if r.daily_budget and r.spent_today > r.daily_budget else ""
        rows.append(
            f"<tr class=role><td class=id>{escape(r.name)}</td><td>{escape(r.engine)}</td>"
            f"<td>{escape(r.last_outcome or '-')}</td>"
            f"<td class=id>{escape(r.next_task or '-')}</td><td>{escape(r.next_reason)}</td>"
            f"<td>{r.runs_week}</td><td{over}>{usd(r.spent_today)} of {usd(r.daily_budget)}</td>"
            "</tr>"
        )
    head = ["role", "engine", "last outcome", "next", "why", "runs/7d", "spent today"]
    return _section("Roles", _table(head, rows), "roles")


def _by_state(status: Status) -> str:
    rows = [
        f"<tr class=task><td class=id>{escape(r.id)}</td><td>{escape(state)}</td>"
        f"<td>{escape(r.role)}</td><td>{_hours(r.age_hours)}</td><td>{escape(r.title)}</td></tr>"
        for state, items in status.by_state.items()
        for r in items
    ]
    counts = ", ".join(f"{k} {len(v)}" for k, v in status.by_state.items() if v)
    head = ["task", "state", "role", "in state", "title"]
    body = f"<p>{escape(counts)}</p>" + _table(head, rows)
    return _section("Tasks by state", body, "by-state")


def _runs(status: Status) -> str:
    """Recent runs; a run with a stored transcript links its page (`fleet runs pages
    runs/` writes them next to the dashboard)."""
    rows = []
    for r in status.recent_runs:
        name = escape(r.run_id)
        cell = f"<a href='runs/{name}.html'>{name}</a>" if r.transcript else name
        rows.append(
            f"<tr class=run><td class=id>{cell}</td><td>{escape(r.role)}</td>"
            f"<td class=id>{escape(r.task or '-')}</td><td>{escape(r.outcome)}</td>"
            f"<td>{usd(r.cost_usd)}</td></tr>"
        )
    body = _table(["run (transcript)", "role", "task", "outcome", "cost"], rows)
    return _section("Recent runs", body, "runs")


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 24:.1f}d" if value >= 48 else f"{value:.0f}h"


def _problems(status: Status) -> str:
    """Broken task files first: nothing else tells the founder why a task never runs."""
    if not status.problems:
        return ""
    rows = "".join(
        f"<tr class=problem><td>{escape(p.path)}:{p.line}</td><td>{escape(p.message)} "
        f"<span class=muted>[{escape(p.code)}]</span></td></tr>"
        for p in status.problems
    )
    body = (
        "<table><tr><th>file</th><th>problem</th></tr>" + rows + "</table>"
        "<p class=muted>Not planned until fixed; <code>fleet validate</code> lists every "
        "error.</p>"
    )
    return _section(f"Broken task files ({len(status.problems)})", body, "problems")


def _escalations(status: Status) -> str:
    rows = status.blocked_on_human
    if not rows:
        return _section("Blocked on a human", "<p>Nothing waits on a human.</p>", "escalations")
    body = [
        "<table><tr><th>kind</th><th>issue</th><th>task</th><th>role</th><th>age</th>"
        "<th>question</th></tr>"
    ]
    for e in rows:
        link = (
            f"<a href='{escape(e.url)}'>{escape(e.id)}</a>"
            if e.url.startswith("https://")
            else escape(e.id)
        )
        body.append(
            f"<tr class=escalation><td class='kind {escape(e.kind)}'>{escape(e.kind)}"
            f"</td><td>{link}</td><td class=id>{escape(e.task or '-')}</td>"
            f"<td>{escape(e.role or '-')}</td><td>{e.age_hours:.0f}h</td>"
            f"<td>{escape(e.title)}</td></tr>"
        )
    body.append("</table>")
    return _section(f"Blocked on a human ({len(rows)})", "".join(body), "escalations")


def _legend(items: list[tuple[str, str]]) -> str:
    return (
        "<div class=legend>"
        + "".join(f"<span><i style='background:{c}'></i>{escape(n)}</span>" for n, c in items)
        + "</div>"
    )


def cost_chart(status: Status, width: int = 560, height: int = 220) -> str:
    days = list(status.cost_per_day.items())[-30:]
    if not days:
        return "<p>No spend in the period.</p>"
    roles = sorted({r for _, per in days for r in per})
    colour = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(roles)}
    top = max(sum(per.values()) for _, per in days) or 1.0
    pad, plot_h = 40, height - 40
    step = (width - pad) / len(days)
    out = [
        f"<svg data-chart=cost width={width} height={height} role=img "
        f"aria-label='cost per day per role'>",
        f"<text x=0 y=12>{usd(top)}</text><line x1={pad} y1={plot_h} x2={width} "
        f"y2={plot_h} stroke=#999 />",
    ]
    for i, (day, per) in enumerate(days):
        y: float = plot_h
        for role in roles:
            cost = per.get(role, 0.0)
            if cost <= 0:
                continue
            h = cost / top * (plot_h - 16)
            y = y - h
            out.append(
                f"<rect class=bar data-day={escape(day)} data-role={escape(role)} "
                f"x={pad + i * step + 1:.1f} y={y:.1f} width={max(step - 2, 1):.1f} "
                f"height={h:.1f} fill={colour[role]}><title>{escape(day)} "
                f"{escape(role)} {usd(cost)}</title></rect>"
            )
        if len(days) <= 15 or i % 5 == 0:
            out.append(f"<text x={pad + i * step:.1f} y={height - 24}>{escape(day[5:])}</text>")
    out.append("</svg>")
    return "".join(out) + _legend([(r, colour[r]) for r in roles])


def throughput_chart(status: Status, width: int = 560, height: int = 200) -> str:
    weeks = list(status.throughput.items())[-12:]
    if not weeks:
        return "<p>Nothing completed or merged in the period.</p>"
    top: float = max(max(c["completed"], c["merged"]) for _, c in weeks) or 1
    pad, plot_h = 30, height - 40
    step = (width - pad) / len(weeks)
    series = (("completed", "#3ca951"), ("merged", "#4269d0"))
    out = [
        f"<svg data-chart=throughput width={width} height={height} role=img "
        "aria-label='throughput per week'>",
        f"<text class=axis x=0 y=12>{int(top)}</text><text class=axis x=0 y={plot_h}>0</text>"
        f"<line x1={pad} y1={plot_h} x2={width} y2={plot_h} stroke=#999 />",
    ]
    for i, (week, counts) in enumerate(weeks):
        for j, (name, colour) in enumerate(series):
            h = counts[name] / top * (plot_h - 10)
            x = pad + i * step + j * step / 2 + 1
            out.append(
                f"<rect class=bar data-series={name} data-week={escape(week)} x={x:.1f} "
                f"y={plot_h - h:.1f} width={max(step / 2 - 2, 1):.1f} height={h:.1f} "
                f"fill={colour}><title>{escape(week)} {name}: {counts[name]}</title>"
                "</rect>"
            )
        out.append(f"<text x={pad + i * step:.1f} y={height - 24}>{escape(week[5:])}</text>")
    out.append("</svg>")
    return "".join(out) + _legend(list(series))


def time_in_state_chart(status: Status, width: int = 560, limit: int = 40) -> str:
    rows = [
        r
        for s in ("blocked", "in_progress", "review", "open")
        for r in status.by_state.get(s, [])
        if r.age_hours is not None
    ]
    rows.sort(key=lambda r: -(r.age_hours or 0))
    rows = rows[:limit]
    if not rows:
        return "<p>No task is waiting.</p>"
    top = max(max(r.age_hours or 0, r.sla_hours or 0) for r in rows) or 1.0
    label, bar_h = 90, 16
    height = len(rows) * (bar_h + 4) + 26  # and the axis: 0 and the longest time
    out = [
        f"<svg data-chart=time-in-state width={width} height={height} role=img "
        "aria-label='time in state per task'>"
    ]
    for i, r in enumerate(rows):
        y = 4 + i * (bar_h + 4)
        w = (r.age_hours or 0) / top * (width - label - 10)
        stroke = " stroke=#c0392b stroke-width=2" if r.breached else ""
        out.append(
            f"<text x=0 y={y + 12}>{escape(r.id)}</text><rect class=bar "
            f"data-task={escape(r.id)} data-state={r.state} x={label} y={y} "
            f"width={max(w, 1):.1f} height={bar_h} fill={STATE_COLOURS[r.state]}{stroke}>"
            f"<title>{escape(r.id)} {r.state} {r.age_hours:.0f}h: {escape(r.title)}"
            "</title></rect>"
        )
        if r.sla_hours:
            x = label + r.sla_hours / top * (width - label - 10)
            out.append(
                f"<line class=sla x1={x:.1f} y1={y - 1} x2={x:.1f} y2={y + bar_h + 1} "
                "stroke=#c0392b stroke-dasharray=3,2 />"
            )
    axis_y = height - 6
    out.append(
        f"<text class=axis x={label} y={axis_y}>0</text><text class=axis "
        f"x={width - 10} y={axis_y} text-anchor=end>{top / 24:.1f} days</text>"
    )
    out.append("</svg>")
    return "".join(out) + _legend(
        [(s, STATE_COLOURS[s]) for s in ("blocked", "in_progress", "review", "open")]
    )


def dependency_graph(status: Status, limit: int = 120) -> str:
    states = {r.id: r.state for rows in status.by_state.values() for r in rows}
    active = {t for t, s in states.items() if s not in ("done", "cancelled")}
    edges = [(a, b) for a, b in status.dependencies if a in active]
    nodes = sorted(active | {b for _, b in edges})[:limit]
    if not edges:
        return "<p>No open task depends on another.</p>"
    keep = set(nodes)
    edges = [(a, b) for a, b in edges if a in keep and b in keep]
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # longest path from a root, bounded (cycles are invalid)
        changed = False
        for a, b in edges:
            if depth[a] < depth[b] + 1:
                depth[a], changed = depth[b] + 1, True
        if not changed:
            break
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(depth[n], []).append(n)
    col_w, row_h, box_w = 120, 28, 96
    pos = {
        n: (10 + d * col_w, 10 + i * row_h)
        for d, names in columns.items()
        for i, n in enumerate(names)
    }
    width = 20 + (max(columns) + 1) * col_w
    height = 20 + max(len(v) for v in columns.values()) * row_h
    out = [
        f"<svg data-chart=dependencies width={width} height={height} role=img "
        "aria-label='task dependency graph'>"
    ]
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        out.append(
            f"<line class=edge x1={xb + box_w} y1={yb + 10} x2={xa} y2={ya + 10} stroke=#999 />"
        )
    for n in nodes:
        x, y = pos[n]
        colour = STATE_COLOURS.get(states.get(n, "open"), "#9498a0")
        out.append(
            f"<rect class=node data-task={escape(n)} x={x} y={y} width={box_w} "
            f"height=20 rx=4 fill={colour} /><text x={x + 6} y={y + 14} "
            f"style='fill:#fff'>{escape(n)}</text>"
        )
    out.append("</svg>")
    note = f"<p class=muted>First {limit} tasks shown.</p>" if len(active) > limit else ""
    return "".join(out) + note
