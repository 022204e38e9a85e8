"""The HTML dashboard in headless Chromium: renders without console errors and without
network requests, and its charts have the expected numbers of bars."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.forge.select import open_forge
from runner.report import html
from runner.report.collect import gather, parse_since
from runner.workspace import open_workspace
from tests.report.conftest import ENV

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
pytestmark = pytest.mark.slow


def _page(root: Path, tmp_path: Path) -> Path:
    ws = open_workspace(root, ENV)
    status = gather(ws, open_forge(ws), parse_since("7d", ws.now)).status
    page = tmp_path / "dashboard.html"
    page.write_text(html.render(status))
    return page


def test_dashboard_in_headless_chromium(fixture_repo: Path, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    page_file = _page(fixture_repo, tmp_path)
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        bars = {
            name: page.locator(f"svg[data-chart={name}] rect.bar").count()
            for name in ("cost", "throughput", "time-in-state")
        }
        nodes = page.locator("svg[data-chart=dependencies] rect.node").count()
        escalations = page.locator("#escalations tr.escalation").count()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
    assert bars["cost"] == 2  # cto on 11-23, ceo on 11-24
    assert bars["throughput"] == 2  # one week: completed, merged
    assert bars["time-in-state"] == 10  # the 12 tasks less the 2 done
    assert nodes > 0 and escalations == 2


def test_dashboard_escapes_everything_users_write(
    fixture_repo: Path,
    tmp_path: Path,
) -> None:
    task = fixture_repo / "tasks/t-012.yaml"
    task.write_text(
        task.read_text().replace("title: Pricing page copy", 'title: "<script>alert(1)</script>"')
    )
    text = _page(fixture_repo, tmp_path).read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_dashboard_shows_what_text_status_shows_and_links_transcripts(
    fixture_repo: Path, tmp_path: Path
) -> None:
    """Parity with `fleet status` text (stuck tasks, roles with spend against budget,
    tasks by state, broken files) plus recent runs linking their transcript pages, which
    `fleet runs pages` writes beside the dashboard; ids never wrap."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from runner.gitrepo import Git
    from runner.report.transcript_html import render as transcript_page
    from runner.runs import transcript as stored
    from runner.state import Ledger, StateStore
    from runner.transcript import Transcript

    ledger = Ledger(StateStore(Git(fixture_repo)))
    (r3,) = [r for r in ledger.runs() if r.run_id == "r3"]
    said = Transcript("r3")
    said.turn("Delegating the launch copy.", {"input_tokens": 500, "output_tokens": 300})
    ledger.finish(r3, transcript=said.to_dict())
    ws = open_workspace(fixture_repo, ENV)
    status = gather(ws, open_forge(ws), parse_since("7d", ws.now)).status
    page_file = tmp_path / "index.html"
    page_file.write_text(html.render(status))
    (tmp_path / "runs").mkdir()
    (r3,) = [r for r in ledger.runs() if r.run_id == "r3"]
    (tmp_path / "runs/r3.html").write_text(transcript_page(r3, stored(ledger.store, r3)))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(page_file.as_uri())
        counts = {
            name: page.locator(selector).count()
            for name, selector in {
                "stuck": "#stuck tr.stuck",
                "roles": "#roles tr.role",
                "tasks": "#by-state tr.task",
                "runs": "#runs tr.run",
                "problems": "#problems li, #problems tr",
            }.items()
        }
        wrap = page.locator("#by-state td.id").first.evaluate("e => getComputedStyle(e).whiteSpace")
        axis = {
            chart: page.locator(f"svg[data-chart={chart}] text").evaluate_all(
                "els => els.map(e => e.textContent)"
            )
            for chart in ("cost", "throughput", "time-in-state")
        }
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        page.locator("#runs a[href='runs/r3.html']").click()
        page.wait_for_load_state("load")
        title = page.title()
        browser.close()
    assert counts["stuck"] == len(status.stuck) > 0
    assert counts["roles"] == len(status.roles) == 7
    assert counts["tasks"] == sum(len(v) for v in status.by_state.values())
    assert counts["runs"] == len(status.recent_runs) > 0
    assert counts["problems"] >= len(status.problems)
    assert wrap == "nowrap"
    assert any(t.startswith("$") for t in axis["cost"])  # every chart's axis has values
    assert "0" in axis["throughput"] and "1" in axis["throughput"]  # one of each, W47
    assert any(t.endswith(" days") for t in axis["time-in-state"])
    assert title == "fleet run r3"
