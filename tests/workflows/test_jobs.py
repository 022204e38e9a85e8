"""The shipped workflows, read as data: which job may hold which credential.

The job that runs the model and the agent's commands holds no write permission and no
GitHub App secret; the jobs that hold one run no model, never see the model key and
never check out a PR's code. These are the files `fleet init` writes (one copy,
runner.resources). The checks are functions of the parsed file, so each is also shown
to catch the mistake it exists for (a doctored copy of a shipped workflow)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.resources import data_dir

WORKFLOWS = sorted(data_dir("workflows").glob("*.yml"))
SPLIT = ("fleet-tick.yml", "fleet-revise.yml", "fleet-ci.yml")
SHA = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
APP_SECRETS = {"FLEET_GITHUB_APP_ID", "FLEET_GITHUB_APP_PRIVATE_KEY"}
# the dangerous triggers a shipped workflow may carry, each in one workflow only and with
# a targeted zizmor ignore whose reasons a test below checks on the file
ALLOWED_DANGEROUS = {"issue_comment": "fleet-intake.yml", "workflow_run": "fleet-ci.yml"}


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
    assert len(writers) == 2  # the claim (ledger only) and the apply
    for job in writers:
        assert not mentions(job, "ANTHROPIC") and secrets_of(job) <= APP_SECRETS
        assert "--phase agent" not in runs(job)
        assert not re.search(
            r"fleet (run|tick)\b|fleet revise(?! --phase (claim|apply))", runs(job)
        )
    claim = next(j for j in writers if "claim" in runs(j))
    assert claim["permissions"]["contents"] == "write"
    if name == "fleet-ci.yml":  # and the one `failure` escalation, the failing job's log
        assert claim["permissions"]["issues"] == "write"
        assert claim["permissions"]["actions"] == claim["permissions"]["checks"] == "read"
    else:
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


def secrets_of(job: dict[str, Any]) -> set[str]:
    return set(re.findall(r"secrets\.(\w+)", yaml.safe_dump(job)))


def runs_agent(job: dict[str, Any]) -> bool:
    """The job runs the model or agent-written code: it holds a model or role credential
    (any secret but the App's), or runs an agent phase or a whole run. (`fleet tick` in
    fleet-validate.yml runs on `pull_request` only, whose intent is `validate`: a plan
    comment, never a role; tests/test_actions.py decides that.)"""
    script = runs(job)
    return bool(
        mentions(job, "ANTHROPIC")
        or secrets_of(job) - APP_SECRETS
        or "--phase agent" in script
        or re.search(r"fleet run\b(?!.*--phase apply)", script)
        or re.search(r"fleet revise\b(?! --phase (claim|apply))", script)
    )


def credential_mixes(doc: dict[str, Any]) -> list[str]:
    """Jobs that hold a write credential and run the model or the agent, or hold the App's
    secrets without being a writer that only publishes (apply), drafts (intake) or
    claims."""
    found = []
    for name, job in doc["jobs"].items():
        app = secrets_of(job) & APP_SECRETS
        if runs_agent(job) and (writes(job) or app):
            found.append(f"{name}: runs the model or the agent and holds a write credential")
        publishes = re.search(r"fleet (apply|intake|claim)\b|--phase (apply|claim)", runs(job))
        if app and not (writes(job) and publishes):
            found.append(f"{name}: holds the App's secrets but only writers that publish may")
    return found


def test_no_job_that_runs_the_model_or_the_agent_gets_a_write_credential() -> None:
    """Every shipped workflow: a job with a model key or an agent phase has read
    permissions only and none of the GitHub App's secrets; the App's secrets go only to
    writer jobs that apply, draft or claim."""
    assert {p.name: credential_mixes(yaml.safe_load(p.read_text())) for p in WORKFLOWS} == {
        p.name: [] for p in WORKFLOWS
    }
    apps = {p.name for p in WORKFLOWS if "FLEET_GITHUB_APP_PRIVATE_KEY" in p.read_text()}
    assert {"fleet-tick.yml", "fleet-revise.yml", "fleet-intake.yml", "fleet-ci.yml"} <= apps


def test_the_credential_scan_catches_each_mix() -> None:
    tick = load("fleet-tick.yml")
    step_env = tick["jobs"]["agent"]["steps"][-3]["env"]
    assert "ANTHROPIC_API_KEY" in step_env  # the agent phase step
    app = copy.deepcopy(tick)
    app["jobs"]["agent"]["steps"][-3]["env"]["FLEET_GITHUB_APP_PRIVATE_KEY"] = (
        "${{ secrets.FLEET_GITHUB_APP_PRIVATE_KEY }}"
    )
    write = copy.deepcopy(tick)
    write["jobs"]["agent"]["permissions"]["contents"] = "write"
    keyed = copy.deepcopy(tick)
    keyed["jobs"]["apply"]["steps"][-1]["env"]["ANTHROPIC_API_KEY"] = "${{ secrets.X }}"
    plan = copy.deepcopy(tick)
    plan["jobs"]["plan"]["steps"][-1]["env"]["FLEET_GITHUB_APP_ID"] = (
        "${{ secrets.FLEET_GITHUB_APP_ID }}"
    )
    assert credential_mixes(tick) == []
    assert credential_mixes(app) == [
        "agent: runs the model or the agent and holds a write credential",
        "agent: holds the App's secrets but only writers that publish may",
    ]
    assert credential_mixes(write) == [
        "agent: runs the model or the agent and holds a write credential"
    ]
    assert credential_mixes(keyed) == [
        "apply: runs the model or the agent and holds a write credential"
    ]
    assert credential_mixes(plan) == [
        "plan: holds the App's secrets but only writers that publish may"
    ]


def needs_of(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


GATE = ("!github.event.issue.pull_request", "github.event.sender.type != 'Bot'")


def comment_dangers(doc: dict[str, Any]) -> list[str]:
    """What would make an `issue_comment` workflow dangerous: a job that starts for a PR
    comment or a bot (neither it nor a job it needs filters them out), that holds a model
    or role credential, that runs a role, an agent phase or apply, that checks out
    anything but the default branch, or a writer that starts without a read-only job's
    decision."""
    jobs, found = doc["jobs"], []

    def gated(name: str) -> bool:
        job = jobs[name]
        return all(g in str(job.get("if", "")) for g in GATE) or any(
            gated(n) for n in needs_of(job)
        )

    for name, job in jobs.items():
        if not gated(name):
            found.append(f"{name}: starts for comments on PRs or by bots")
        if mentions(job, "ANTHROPIC") or secrets_of(job) - APP_SECRETS:
            found.append(f"{name}: holds a model or role credential")
        if re.search(r"fleet (run|tick|revise|apply|claim)\b|--phase", runs(job)):
            found.append(f"{name}: runs more than a decision or a draft")
        for step in job["steps"]:
            ref = (step.get("with") or {}).get("ref")
            if str(step.get("uses", "")).startswith("actions/checkout@") and (
                ref != "${{ github.event.repository.default_branch }}"
            ):
                found.append(f"{name}: checks out {ref!r}, not the default branch")
        if writes(job):
            deciders = [n for n in needs_of(job) if not writes(jobs[n])]
            if not deciders or not any(
                f"needs.{n}.outputs" in str(job.get("if")) for n in deciders
            ):
                found.append(f"{name}: writes without a read-only job's decision")
    return found


def test_the_comment_trigger_runs_nothing_dangerous() -> None:
    """fleet-intake.yml carries `issue_comment` (a targeted zizmor ignore): its reasons,
    checked on the file."""
    assert comment_dangers(load("fleet-intake.yml")) == []


HEAD = "${{ github.event.issue.pull_request.head.sha }}"


def test_the_comment_trigger_check_catches_each_danger() -> None:
    intake = load("fleet-intake.yml")
    cases = {
        "ungated": lambda d: d["jobs"]["check"].update({"if": "${{ true }}"}),
        "keyed": lambda d: d["jobs"]["draft"]["steps"][-1]["env"].update(
            {"ANTHROPIC_API_KEY": "${{ secrets.ANTHROPIC_API_KEY }}"}
        ),
        "runs": lambda d: d["jobs"]["draft"]["steps"][-1].update({"run": "fleet tick"}),
        "head": lambda d: d["jobs"]["check"]["steps"][0]["with"].update({"ref": HEAD}),
        "undecided": lambda d: d["jobs"]["draft"].update({"if": "${{ always() }}"}),
    }
    expected = {
        "ungated": [
            "check: starts for comments on PRs or by bots",
            "draft: starts for comments on PRs or by bots",
        ],
        "keyed": ["draft: holds a model or role credential"],
        "runs": ["draft: runs more than a decision or a draft"],
        "head": [f"check: checks out {HEAD!r}, not the default branch"],
        "undecided": ["draft: writes without a read-only job's decision"],
    }
    for case, change in cases.items():
        doc = copy.deepcopy(intake)
        change(doc)
        assert comment_dangers(doc) == expected[case], case


CI_GATE = (
    "startsWith(github.event.workflow_run.head_branch, 'fleet/')",
    "github.event.workflow_run.head_repository.full_name == github.repository",
    "github.event.workflow_run.conclusion",
)


def ci_dangers(doc: dict[str, Any]) -> list[str]:
    """What would make the `workflow_run` workflow dangerous: a job that starts for a run
    that is not a failure, not on an agent branch or from a fork; a checkout of anything
    but the default branch; an artifact downloaded from another run (what the triggering
    run built); a writer with a model key or an agent phase; an agent job that can write
    or runs unjailed."""
    jobs, found = doc["jobs"], []

    def gated(name: str) -> bool:
        job = jobs[name]
        return all(g in str(job.get("if", "")) for g in CI_GATE) or any(
            gated(n) for n in needs_of(job)
        )

    for name, job in jobs.items():
        if not gated(name):
            found.append(f"{name}: starts for any completed run")
        for step in job["steps"]:
            uses, given = str(step.get("uses", "")), step.get("with") or {}
            default = "${{ github.event.repository.default_branch }}"
            if uses.startswith("actions/checkout@") and given.get("ref") != default:
                found.append(f"{name}: checks out {given.get('ref')!r}, not the default branch")
            if uses.startswith("actions/download-artifact@") and {"run-id", "github-token"} & set(
                given
            ):
                found.append(f"{name}: downloads another run's artifact")
        if writes(job) and runs_agent(job):
            found.append(f"{name}: writes and runs the model or the agent")
        if "--phase agent" in runs(job):
            jailed = [s for s in job["steps"] if (s.get("with") or {}).get("sandbox") == "true"]
            if writes(job) or not jailed:
                found.append(f"{name}: runs the agent with write permissions or unjailed")
    return found


def test_the_ci_trigger_runs_nothing_dangerous() -> None:
    """fleet-ci.yml carries `workflow_run` (a targeted zizmor ignore): its reasons,
    checked on the file."""
    assert ci_dangers(load("fleet-ci.yml")) == []


def test_the_ci_trigger_check_catches_each_danger() -> None:
    ci = load("fleet-ci.yml")
    head = "${{ github.event.workflow_run.head_sha }}"
    cases = {
        "ungated": lambda d: d["jobs"]["check"].update({"if": "${{ true }}"}),
        "head": lambda d: d["jobs"]["agent"]["steps"][0]["with"].update({"ref": head}),
        "artifact": lambda d: d["jobs"]["apply"]["steps"][4]["with"].update(
            {"run-id": "${{ github.event.workflow_run.id }}"}
        ),
        "keyed": lambda d: d["jobs"]["apply"]["steps"][-1]["env"].update(
            {"ANTHROPIC_API_KEY": "${{ secrets.ANTHROPIC_API_KEY }}"}
        ),
        "writing agent": lambda d: d["jobs"]["agent"]["permissions"].update(contents="write"),
    }
    expected = {
        "ungated": [f"{j}: starts for any completed run" for j in ("check", "agent", "apply")],
        "head": [f"agent: checks out {head!r}, not the default branch"],
        "artifact": ["apply: downloads another run's artifact"],
        "keyed": ["apply: writes and runs the model or the agent"],
        "writing agent": [
            "agent: writes and runs the model or the agent",
            "agent: runs the agent with write permissions or unjailed",
        ],
    }
    assert "download-artifact" in ci["jobs"]["apply"]["steps"][4]["uses"]
    for case, change in cases.items():
        doc = copy.deepcopy(ci)
        change(doc)
        assert ci_dangers(doc) == expected[case], case


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_event_text_in_scripts_and_no_dangerous_trigger(path: Path) -> None:
    """No event text in a script; `pull_request_target` nowhere; `issue_comment` and
    `workflow_run` only in their one workflow each, ignored for zizmor on that trigger's
    line alone (ignore[dangerous-triggers]), never a blanket or other ignore."""
    text = path.read_text()
    doc = yaml.safe_load(text)
    assert doc["permissions"] == {}
    for job in doc["jobs"].values():
        assert "github.event" not in runs(job) and "${{" not in runs(job)
    dangerous = {"issue_comment", "pull_request_target", "workflow_run"} & set(triggers(doc))
    assert {t for t in dangerous if ALLOWED_DANGEROUS.get(t) != path.name} == set()
    ignores = [line.strip() for line in text.splitlines() if "zizmor: ignore" in line]
    assert ignores == [
        f"{t}:  # zizmor: ignore[dangerous-triggers] (see the reasons above)"
        for t in ALLOWED_DANGEROUS
        if ALLOWED_DANGEROUS[t] == path.name
    ]


def test_one_ci_event_cannot_cancel_another_heads_pending_check() -> None:
    """A concurrency group keeps one pending job and a newer one cancels it: per branch,
    a fork's failing suite on a branch named like an agent's cancelled the pending claim
    of our own failure, which nothing redelivers (adversary F2)."""
    group = load("fleet-ci.yml")["jobs"]["check"]["concurrency"]["group"]
    assert "workflow_run.head_sha" in group and "check_suite.head_sha" in group, group
    assert "head_branch" not in group, group
