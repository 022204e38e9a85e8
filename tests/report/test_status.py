"""Status from a real repository with a fabricated ledger and forge records, checked
against numbers computed by hand (FLEET_NOW fixes the clock)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runner.workspace import open_workspace
from tests.conftest import commit_all
from tests.report.conftest import ENV, _at, _mark_done


def _status(root: Path, since: str = "7d"):
    from runner.forge.select import open_forge
    from runner.report.collect import gather, parse_since

    ws = open_workspace(root, ENV)
    return gather(ws, open_forge(ws), parse_since(since, ws.now)).status


def test_numbers_match_the_hand_computed_fixture(fixture_repo: Path) -> None:
    s = _status(fixture_repo)
    t = s.totals
    assert s.since == "2026-11-17T12:00:00Z"
    assert (t.tasks_completed, t.prs_opened, t.prs_merged) == (1, 2, 1)
    assert (t.escalations_opened, t.escalations_resolved) == (3, 1)
    assert (t.commits_agents, t.commits_humans) == (1, 1)
    assert (t.runs, t.delegations) == (4, 2)
    assert (t.input_tokens, t.output_tokens, t.cache_read_tokens, t.cache_write_tokens) == (
        1500,
        500,
        9000,
        1500,
    )
    assert t.cache_share == pytest.approx(0.75)
    assert t.cost_usd == pytest.approx(1.75)
    assert t.cost_per_completed_task == pytest.approx(1.75)
    assert s.cost_per_day == {"2026-11-23": {"cto": 0.5}, "2026-11-24": {"ceo": 1.25}}
    assert s.throughput == {"2026-W47": {"completed": 1, "merged": 1}}
    # waiting on a human: credentials first, then by age
    assert [(e.kind, e.task, e.age_hours) for e in s.blocked_on_human] == [
        ("credential", "t-006", 24.0),
        ("decision", "t-008", 48.0),
    ]
    # the research PR has waited 51 h for review (SLA 48 h), three ready tasks nobody ran
    # for weeks (72 h) and a task blocked on a decision for 48 h (24 h): what `fleet sla`
    # escalates, oldest first (it counted review and in_progress only)
    assert [(r.id, r.state, r.age_hours) for r in s.stuck] == [
        ("t-002", "open", 540.0),
        ("t-004", "open", 516.0),
        ("t-010", "open", 444.0),
        ("t-009", "review", 51.0),
        ("t-008", "blocked", 48.0),
    ]
    states = {r.id: r.state for rows in s.by_state.values() for r in rows}
    assert states["t-005"] == "in_progress" and states["t-001"] == "done"
    roles = {r.name: r for r in s.roles}
    assert (roles["cto"].runs_week, roles["cto"].last_outcome) == (2, "running")
    assert (roles["ceo"].spent_today, roles["devops"].commits_week) == (1.25, 1)
    assert roles["fullstack"].runs_week == 0


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "html"])
def test_every_format_renders(fixture_repo: Path, fleet_cli, monkeypatch, fmt: str) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    out = fleet_cli("-C", str(fixture_repo), "status", "--format", fmt)
    assert out.exit_code == 0, out.output
    if fmt == "json":
        data = json.loads(out.stdout)
        assert data["totals"]["cost_usd"] == pytest.approx(1.75)
        assert data["blocked_on_human"][0]["kind"] == "credential"
    elif fmt == "html":
        assert out.stdout.startswith("<!doctype html>")
        assert "http" not in out.stdout.split("<main>")[0].replace("https://", "")
    else:
        assert "Blocked on a human (2)" in out.stdout
        assert "t-009" in out.stdout


def test_weekly_report_format(fixture_repo: Path, fleet_cli, monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    out = fleet_cli("-C", str(fixture_repo), "status", "--since", "7d", "--format", "markdown")
    text = out.stdout
    assert text.startswith("## fleet acme: status at 2026-11-24T12:00:00Z")
    assert (
        "1 task(s) completed, 2 PR(s) opened / 1 merged, 3 escalation(s) opened / 1 "
        "resolved, 1 agent / 1 human commit(s), 2 delegation(s), 4 run(s), cost $1.75 "
        "($1.75 per completed task)"
    ) in text
    assert "| credential | local-issue:fullstack/t-006/credential | t-006 |" in text


def test_founder_delta_since_the_last_recorded_status(
    fixture_repo: Path, fleet_cli, monkeypatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    assert fleet_cli("-C", str(fixture_repo), "status", "--record").exit_code == 0
    _mark_done(fixture_repo, "t-009")
    commit_all(fixture_repo, "Merge research/t-009", **_at("2026-11-24T11:00:00Z"))
    out = fleet_cli("-C", str(fixture_repo), "status")
    assert "Changed since the last status (1)" in out.stdout
    assert "- t-009: review -> done" in out.stdout


def test_since_must_be_a_duration_or_date(fixture_repo: Path, fleet_cli, monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    out = fleet_cli("-C", str(fixture_repo), "status", "--since", "last tuesday")
    assert out.exit_code == 2 and "7d" in out.output


def test_output_to_a_missing_directory_is_an_error(
    fixture_repo: Path, tmp_path: Path, fleet_cli, monkeypatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    target = tmp_path / "typo" / "site" / "index.html"
    out = fleet_cli("-C", str(fixture_repo), "status", "--format", "html", "-o", str(target))
    assert out.exit_code == 2
    assert "does not exist" in out.output and "mkdir -p" in out.output
    assert not (tmp_path / "typo").exists()


def test_an_sla_notice_is_counted_once(fixture_repo: Path, fleet_cli, monkeypatch) -> None:
    """Issue 12 #9: a breach was both "waiting on you" (its notice) and "stuck"."""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    filed = fleet_cli("-C", str(fixture_repo), "sla")
    assert filed.exit_code == 0
    s = _status(fixture_repo)
    stuck = ["t-002", "t-004", "t-010", "t-009", "t-008"]
    assert [r.id for r in s.stuck] == stuck
    # what status calls stuck is what `fleet sla` escalated: no more, no fewer
    assert sorted(set(re.findall(r"\bt-0\d\d\b", filed.output))) == sorted(stuck), filed.output
    assert [e.kind for e in s.blocked_on_human] == ["credential", "decision"]
    html = fleet_cli("-C", str(fixture_repo), "status", "--format", "html").stdout
    assert "<b>2</b>waiting on you" in html and "<b>5</b>stuck" in html


def test_long_titles_are_cut_at_a_word_boundary(fixture_repo: Path, fleet_cli, monkeypatch) -> None:
    """Issue 12 #9: the question column cut the credential name; titles were cut mid-word."""
    from runner.bodies import escalation_title
    from runner.report import render
    from runner.report.status import EscalationRow, Status

    summary = (
        "Role 'fullstack' needs STAGING_DATABASE_URL, PAYMENTS_API_KEY to work on this task, "
        "and it is not set in the job's environment."
    )
    title = escalation_title("fullstack", summary, "t-006")
    status = Status("acme", "now", "then")
    status.blocked_on_human = [
        EscalationRow("#14", "t-006", "fullstack", "credential", 24.0, title)
    ]
    for markdown in (False, True):
        text = render.render(status, markdown=markdown)
        row = next(line for line in text.splitlines() if "#14" in line)
        assert "STAGING_DATABASE_URL, PAYMENTS_API_KEY to work…" in row
        assert "[fleet]" not in row and "(t-006)" not in row  # the columns say it already
        assert "…" in row and "environm" not in row.replace("environment", "")
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    task = fixture_repo / "tasks/t-012.yaml"
    task.write_text(
        task.read_text().replace(
            "title: Pricing page copy",
            "title: Pricing page copy for the three plans with annual discounts explained",
        )
    )
    for fmt in ("text", "markdown"):
        out = fleet_cli("-C", str(fixture_repo), "status", "--format", fmt).stdout
        assert "Pricing page copy for the three plans with annual…" in out
