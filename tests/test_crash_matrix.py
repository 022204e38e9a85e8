"""The crash matrix: a real `fleet run` killed at every side effect, then run again.

Each case sets `FLEET_FAULT=after:<point>:<kill|term>` (runner/faults.py), so the runner
signals itself right after that side effect: SIGKILL (nothing runs after it: a lost
machine) or SIGTERM (a cancelled Actions job). The same run is then started again (after
a SIGKILL, once its lease and any escalation claim have expired). Whatever the point:

- exactly one open PR for the task's branch; at most one escalation per cause;
- no lost commits: every commit the killed run made is in the final branch;
- a consistent ledger: every record valid, none left `running`, no live lease left;
- after a SIGTERM, the killed run is recorded `cancelled` (or completed, when the signal
  came after its final record) and the process exits 1 (0 if it had completed).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from runner.gitrepo import Git
from runner.lease import live_leases
from runner.state import Ledger, StateStore
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub

ROOT = Path(__file__).parents[1]
START, LATER = "2026-11-24T10:30:00Z", "2026-11-24T10:45:00Z"  # 15 min: past lease and claim
BRANCH = "fleet/tester/t-100"
DONE = [
    reply(tool("write_file", path="out/report.md", content="# Report\n")),
    reply(tool("finish", summary="wrote it")),
]
ASK = [
    reply(tool("write_file", path="out/report.md", content="# Draft\n")),
    reply(tool("escalate", kind="decision", summary="Which launch date?")),
]
# (point, script): the points a done run passes (local forge), and those of a run that
# escalates after writing (GitHub forge: the claim and the issue exist only there)
LOCAL = ["lease", "ledger_start", "commit@1", "push@1", "commit@2", "push@2", "pr"]
LOCAL += ["ledger_finish"]
GITHUB = ["commit@1", "push@1", "pr", "claim", "issue", "escalation", "ledger_finish"]
CASES = [("local", p) for p in LOCAL] + [("github", p) for p in GITHUB]


def _fleet(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", "-C", str(repo), "run", "--role", "tester"],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _tips(repo: Path) -> list[str]:
    """The branch tips the killed run left, locally and on the origin."""
    origin = repo.parent / "origin.git"
    return [
        sha
        for sha in (Git(repo).rev(f"refs/heads/{BRANCH}"), Git(origin).rev(f"refs/heads/{BRANCH}"))
        if sha
    ]


@pytest.mark.slow
@pytest.mark.parametrize("signal", ["kill", "term"])
@pytest.mark.parametrize(("forge", "point"), CASES)
def test_crash_at_each_side_effect(agent_repo: Path, forge: str, point: str, signal: str) -> None:
    name, _, nth = point.partition("@")
    fault = f"after:{name}:{signal}" + (f"@{nth}" if nth else "")
    script = DONE if forge == "local" else ASK
    with FakeAnthropic(list(script) + list(script)) as model, _forge(forge) as gh:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "FLEET_NOW": START,
            "ANTHROPIC_API_KEY": "sk-ant-test-key",
            "ANTHROPIC_BASE_URL": model.url,
            "STAGING_DATABASE_URL": "postgres://staging",
            **_forge_env(forge, gh),
        }
        killed = _fleet(agent_repo, {**env, "FLEET_FAULT": fault})
        tips = _tips(agent_repo)
        again = _fleet(agent_repo, {**env, "FLEET_NOW": LATER if signal == "kill" else START})
        assert again.returncode == 0, again.stdout + again.stderr
        prs, escalations = _forge_items(agent_repo, forge, gh)
    story = f"{fault}:\n{killed.stdout}{killed.stderr}\n--- rerun:\n{again.stdout}{again.stderr}"
    if signal == "kill":
        assert killed.returncode == -9, story
    store = StateStore(Git(agent_repo))
    store.refresh()
    runs = Ledger(store).runs()
    if signal == "term":
        ids = re.findall(r"run (\d{8}T\d{6}Z-tester-[0-9a-f]+)", killed.stdout)
        first = next(r for r in runs if r.run_id in ids)
        completed = name == "ledger_finish"
        assert killed.returncode == (0 if completed else 1), story
        assert first.outcome != "running" and (completed or first.outcome == "cancelled"), story

    assert prs == 1, story  # exactly one PR
    assert escalations <= (0 if forge == "local" else 1), story  # at most one per cause
    final = Git(agent_repo.parent / "origin.git").rev(f"refs/heads/{BRANCH}")
    for tip in tips:  # no lost commits
        assert final and Git(agent_repo).is_ancestor(tip, final), story
    paths = [p for p in store.list("runs/") if p.endswith(".json")]
    assert len(paths) == len(runs), story  # every record is valid
    assert all(r.outcome != "running" for r in runs), story  # none left running
    assert not live_leases(store, _parse(LATER)), story  # no live lease left


def _parse(text: str):
    from runner.clock import parse

    return parse(text)


class _NoForge:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _forge(name: str):
    return FakeGitHub(permissions={"founder-ana": "admin"}) if name == "github" else _NoForge()


def _forge_env(name: str, gh: FakeGitHub | None) -> dict[str, str]:
    if gh is None:
        return {"FLEET_FORGE": "local"}
    return {
        "GITHUB_TOKEN": gh.token,
        "GITHUB_REPOSITORY": "acme/fleet",
        "GITHUB_API_URL": gh.url,
        "FLEET_GITHUB_WRITE_INTERVAL": "0",
        "FLEET_GITHUB_BACKOFF": "0",
    }


def _forge_items(repo: Path, name: str, gh: FakeGitHub | None) -> tuple[int, int]:
    """(open PRs for the branch, escalation issues) as the forge has them."""
    if gh is not None:
        prs = [p for p in gh.pulls() if p["state"] == "open" and p["head"]["ref"] == BRANCH]
        return len(prs), len(gh.open_issues("fleet:escalation"))
    store = StateStore(Git(repo))
    store.refresh()
    pr = store.read_json("forge/prs/tester/t-100.json")
    issues = [p for p in store.list("forge/issues/") if p.endswith(".json")]
    return int(bool(pr and pr.get("state") == "open")), len(issues)
