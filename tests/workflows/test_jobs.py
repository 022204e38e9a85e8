"""The shipped workflows, read as data: which job may hold which credential.

The job that runs the model and the agent's commands holds no write permission; the jobs
that hold one run no model, never see the model key and never check out a PR's code.
These are the files `fleet init` writes (one copy, runner.resources)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.resources import data_dir

WORKFLOWS = sorted(data_dir("workflows").glob("*.yml"))
SPLIT = ("fleet-tick.yml", "fleet-revise.yml")
SHA = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((data_dir("workflows") / name).read_text())


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.get("on", doc.get(True)) or {}  # YAML 1.1 reads `on` as True


def writes(job: dict[str, Any]) -> bool:
    return "write" in (job.get("permissions") or {}).values()


def mentions(job: dict[str, Any], text: str) -> bool:
    return text in yaml.safe_dump(job)


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


@pytest.mark.parametrize("name", SPLIT)
def test_the_agent_job_is_read_only_and_the_writers_hold_no_model_key(name: str) -> None:
    jobs = load(name)["jobs"]
    agents = [j for j in jobs.values() if mentions(j, "ANTHROPIC_API_KEY")]
    assert len(agents) == 1, "exactly one job holds the model key"
    (agent,) = agents
    assert agent["permissions"] == {
        "contents": "read",
        "issues": "read",
        "pull-requests": "read",
    }
    assert "--phase agent" in runs(agent)
    installs = [s for s in agent["steps"] if str(s.get("uses", "")).startswith("fleet-runner/")]
    assert [s.get("with", {}).get("sandbox") for s in installs] == ["true"]  # jail arranged
    writers = [j for j in jobs.values() if writes(j)]
    # the claim (ledger only), the apply, and in the tick the intake (a drafted task file)
    assert len(writers) == (3 if name == "fleet-tick.yml" else 2)
    for job in writers:
        assert not mentions(job, "ANTHROPIC") and not mentions(job, "secrets.")
        assert "--phase agent" not in runs(job)
        assert not re.search(
            r"fleet (run|tick)\b|fleet revise(?! --phase (claim|apply))", runs(job)
        )
    claim = next(j for j in writers if "claim" in runs(j))
    assert claim["permissions"]["contents"] == "write"
    assert "issues" not in claim["permissions"]  # the ledger only
    assert "pull-requests" not in claim["permissions"] or (
        claim["permissions"]["pull-requests"] == "read"
    )


@pytest.mark.parametrize("name", SPLIT)
def test_apply_runs_after_any_agent_end_from_its_artifact(name: str) -> None:
    jobs = load(name)["jobs"]
    agent = next(j for j in jobs.values() if mentions(j, "ANTHROPIC_API_KEY"))
    apply = next(j for j in jobs.values() if writes(j) and "apply" in runs(j))
    agent_id = next(k for k, j in jobs.items() if j is agent)
    assert agent_id in apply["needs"] and "always()" in apply["if"]
    upload = next(s for s in agent["steps"] if "upload-artifact" in str(s.get("uses")))
    download = next(s for s in apply["steps"] if "download-artifact" in str(s.get("uses")))
    assert "always()" in upload["if"]
    assert upload["with"]["name"] == download["with"]["name"]
    assert upload["with"]["path"] == download["with"]["path"] == "${{ runner.temp }}/fleet-outputs"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_checks_out_the_base_branch_without_credentials(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    for job in doc["jobs"].values():
        for step in job["steps"]:
            uses = str(step.get("uses", ""))
            if uses:
                assert SHA.match(uses.split("#")[0].strip()), f"{uses} is not pinned by SHA"
            if uses.startswith("actions/checkout@"):
                w = step["with"]
                assert w["persist-credentials"] is False
                if path.name in SPLIT:
                    assert w["ref"] == "${{ github.event.repository.default_branch }}"
                assert not re.search(r"head|pull_request|merge", str(w.get("ref", "")))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_event_text_in_scripts_and_no_dangerous_trigger(path: Path) -> None:
    text = path.read_text()
    doc = yaml.safe_load(text)
    assert doc["permissions"] == {}
    for job in doc["jobs"].values():
        assert "github.event" not in runs(job) and "${{" not in runs(job)
    assert not {"issue_comment", "pull_request_target", "workflow_run"} & set(triggers(doc))
    assert "zizmor: ignore" not in text
