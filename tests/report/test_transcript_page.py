"""A run's transcript page in headless Chromium: a 30-turn run renders with no console
error and no request, every turn shown, and markup a tool printed stays text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.transcript import Transcript
from tests.test_runs import PLANTED, RUN_ID, store, thirty_turns

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
pytestmark = pytest.mark.slow
HOSTILE = (
    '<script>document.title="pwned"</script><img src="http://127.0.0.1:9/x" '
    "onerror=\"document.title='pwned'\"><style>body{display:none}</style>"
)


def test_transcript_page_in_headless_chromium(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    monkeypatch.setenv("FLEET_FORGE", "local")
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    transcript: Transcript = thirty_turns()
    transcript.tool("run_command", {"command": "cat page.html"}, HOSTILE)
    store(agent_repo, transcript)
    page_file = tmp_path / f"{RUN_ID}.html"
    wrote = fleet_cli(
        "-C", str(agent_repo), "runs", "show", RUN_ID, "--format", "html", "-o", str(page_file)
    )
    assert wrote.exit_code == 0, wrote.output
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        turns = page.locator(".entry.turn").count()
        tools = page.locator(".entry.tool").count()
        title = page.title()
        body = page.inner_text("body")
        page.locator("details").first.click()  # outputs open on a click, without script
        opened = page.locator("details[open]").count()
        visible = page.is_visible(".entry.turn")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "transcript.png"), full_page=False)
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
    assert turns == 30 and tools == 32  # 30 reads, env, the hostile output
    assert title == f"fleet run {RUN_ID}" and visible
    assert "Turn 30: I will read part 30." in body and "Acceptance: 1/2 check(s) passed" in body
    assert PLANTED not in body
    assert opened == 1
