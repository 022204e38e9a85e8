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
