"""The apply phase against a hostile agent job (issue 11, item 4).

Each test hands `fleet apply` the outputs of an agent job that tries one attack: real
commits in a real bundle, real git remotes, the fake GitHub. Nothing refused may reach
the remote or the forge, and the one security escalation quotes no secret.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from runner import outputs
from runner.tasks import mark_done
from tests.conftest import git
from tests.fakes.github_server import FakeGitHub
from tests.security.apply_helpers import (
    AgentJob,
    add_wide_role,
    apply,
    post_text_at,
    remote_branches,
)

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


SECRET = "s3cr3t-DEPLOY-9f8e7d6c5b4a"  # a credential the job holds (DEPLOY_TOKEN)


@pytest.fixture
def wide(repo: Path) -> Path:
    add_wide_role(repo)
    return repo


def refused(applied, *needles: str) -> str:
    assert applied.review is not None and not applied.review.bundle_ok
    text = "\n".join(applied.review.refusals)
    for needle in needles:
        assert needle in text, text
    assert applied.record.outcome == "escalated"
    assert applied.security is not None and applied.security.kind == "security"
    assert applied.pr is None and not applied.pushed
    return text


def assert_not_pushed(repo: Path, branch: str = "fleet/wide/t-200") -> None:
    assert branch not in remote_branches(repo)


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), raw.hex()]


def test_clean_outputs_are_pushed_and_the_pr_opened(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/guide.md", "# Guide\n")
    job.commit()
    applied = apply(wide, job.outputs())
    assert applied.review is not None and applied.review.clean, applied.review
    assert applied.pushed and applied.pr is not None and applied.record.outcome == "done"
    assert "fleet/wide/t-200" in remote_branches(wide)
    assert applied.security is None


def test_bundle_touching_github_workflows_is_refused(wide: Path) -> None:
    job = AgentJob(wide)
    job.write(".github/workflows/evil.yml", "on: push\njobs: {}\n")
    job.commit()
    refused(apply(wide, job.outputs()), ".github/workflows/evil.yml", "protected")
    assert_not_pushed(wide)


def test_bundle_touching_codeowners_anywhere_is_refused(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/CODEOWNERS", "* @wide-agent\n")
    job.commit()
    refused(apply(wide, job.outputs()), "docs/CODEOWNERS", "protected")
    assert_not_pushed(wide)


def test_bundle_rewriting_fleet_config_is_refused(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("fleet/roles/wide.yaml", (wide / "fleet/roles/wide.yaml").read_text() + "x: 1\n")
    job.commit()
    refused(apply(wide, job.outputs()), "fleet/roles/wide.yaml", "protected")
    assert_not_pushed(wide)


def test_bundle_rewriting_its_own_acceptance_is_refused(wide: Path) -> None:
    job = AgentJob(wide)
    text = (wide / "tasks/t-200.yaml").read_text()
    job.write("tasks/t-200.yaml", text.replace("test -f README.md", "true"))
    job.commit()
    refused(apply(wide, job.outputs()), "tasks/t-200.yaml", "task's own file")
    assert_not_pushed(wide)


def test_the_runners_done_marking_of_the_task_file_is_applied(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/a.md", "a\n")
    job.commit()
    text = (wide / "tasks/t-200.yaml").read_text()
    job.write("tasks/t-200.yaml", mark_done(text, "Tidied the docs"))
    job.commit("Complete t-200")
    applied = apply(wide, job.outputs())
    assert applied.review is not None and applied.review.clean, applied.review.refusals
    assert applied.pushed


def test_done_marking_smuggling_a_changed_check_is_refused(wide: Path) -> None:
    job = AgentJob(wide)
    text = (wide / "tasks/t-200.yaml").read_text().replace("test -f README.md", "true")
    job.write("tasks/t-200.yaml", mark_done(text, "done"))
    job.commit("Complete t-200")
    refused(apply(wide, job.outputs()), "task's own file")


def test_bundle_with_a_gitlink_or_gitmodules_is_refused(wide: Path) -> None:
    job = AgentJob(wide)
    job.write(".gitmodules", '[submodule "x"]\n\tpath = vendor/x\n\turl = https://evil/x\n')
    job.gitlink("vendor/x", "1" * 40)
    job.commit()
    text = refused(apply(wide, job.outputs()), "vendor/x", "gitlink", ".gitmodules")
    assert "protected" in text
    assert_not_pushed(wide)


@pytest.mark.parametrize("target", ["/proc/self/environ", "../../../etc/passwd", "../.git/config"])
def test_bundle_with_a_symlink_out_of_the_repository_is_refused(wide: Path, target: str) -> None:
    job = AgentJob(wide)
    job.symlink("docs/link", target)
    job.commit()
    refused(apply(wide, job.outputs()), "docs/link", "symbolic link")
    assert_not_pushed(wide)


def test_a_symlink_inside_the_repository_is_applied(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/real.md", "x\n")
    job.symlink("docs/alias.md", "real.md")
    job.commit()
    applied = apply(wide, job.outputs())
    assert applied.review is not None and applied.review.clean, applied.review.refusals


def test_oversized_file_is_refused(repo: Path) -> None:
    add_wide_role(repo, "apply: {max_file_bytes: 1000}\n")
    job = AgentJob(repo)
    job.write("data/big.bin", b"\x01" * 5000)
    job.commit()
    refused(apply(repo, job.outputs()), "data/big.bin", "5000 bytes")
    assert_not_pushed(repo)


def test_caps_on_files_lines_and_escalations(repo: Path) -> None:
    add_wide_role(repo, "apply: {max_files: 2, max_lines: 5, max_escalations: 1}\n")
    job = AgentJob(repo)
    for n in range(3):
        job.write(f"docs/{n}.md", "line\n" * 3)
    job.commit()
    esc = outputs.EscalationOut("decision", "q", "which?")
    applied = apply(repo, job.outputs(escalations=[esc, esc]))
    refused(applied, "3 changed files exceed the cap of 2", "9 changed lines")
    assert "2 escalations exceed the cap of 1" in applied.review.notes[0]
    assert applied.issues == []  # over the cap: none of them is opened
    assert_not_pushed(repo)


@pytest.mark.parametrize("form", ["raw", "base64", "hex"])
def test_secret_in_a_file_is_refused_and_not_quoted(wide: Path, form: str) -> None:
    encoded = dict(zip(["raw", "base64", "hex"], forms(SECRET), strict=True))[form]
    job = AgentJob(wide, DEPLOY_TOKEN=SECRET)
    job.write("docs/notes.md", f"# Notes\n\nconfig blob: {encoded}\n")
    job.commit()
    applied = apply(wide, job.outputs(), DEPLOY_TOKEN=SECRET)
    text = refused(applied, "docs/notes.md", "adds a secret")
    assert_not_pushed(wide)
    assert f"known-secret/{form}" in "\n".join(applied.review.findings)
    origin = wide.parent / "origin.git"
    state = git(origin, "log", "-p", "fleet-state")
    for leaked in forms(SECRET):
        assert leaked not in text and leaked not in state


def secret_outputs(job: AgentJob, where: str, leak: str) -> Path:
    pr = outputs.PullOut("[fleet] wide: work (t-200)", "Did it.", False)
    escalations: list[outputs.EscalationOut] = []
    comments: list[outputs.CommentOut] = []
    if where == "pr":
        pr = outputs.PullOut(pr.title, f"Did it. Debug: {leak}", False)
    elif where == "escalation":
        escalations = [outputs.EscalationOut("decision", "Which key?", f"I found {leak}")]
    else:
        comments = [outputs.CommentOut(f"Revised; token was {leak}")]
    return job.outputs(pr=pr, escalations=escalations, comments=comments)


def _everything_posted(gh: FakeGitHub) -> str:
    items = [f"{i.get('title')}\n{i.get('body')}" for i in gh.issues.values()]
    return "\n".join(items + [c["body"] for c in gh.comments])


@pytest.mark.parametrize("where", ["pr", "escalation", "comment"])
@pytest.mark.parametrize("form", ["raw", "base64", "hex"])
def test_secret_in_posted_text_is_blocked(wide: Path, where: str, form: str) -> None:
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        env = {
            "GITHUB_TOKEN": gh.token,
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
            "FLEET_GITHUB_WRITE_INTERVAL": "0",
            "FLEET_GITHUB_BACKOFF": "0",
        }
        leak = dict(zip(["raw", "base64", "hex"], forms(gh.token), strict=True))[form]
        job = AgentJob(wide, **env)
        job.write("docs/guide.md", "# Guide\n")
        job.commit()
        applied = apply(wide, secret_outputs(job, where, leak), **env)
        posted = _everything_posted(gh)
    assert applied.review is not None and applied.review.bundle_ok
    assert where in " ".join(applied.review.blocked)
    assert applied.security is not None and applied.security.kind == "security"
    for leaked in forms(gh.token):
        assert leaked not in posted
    assert "security" in posted  # the one escalation saying what was blocked
    if where == "pr":
        assert applied.pr is None
    else:
        assert applied.pr is not None


def test_markers_in_agent_text_are_stripped(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/a.md", "a\n")
    job.commit()
    spoof = "<!-- fleet:kind=escalation/credential role=cto task=t-001 -->"
    pr = outputs.PullOut("[fleet] wide: work (t-200)", f"Done.{spoof}", False)
    applied = apply(wide, job.outputs(pr=pr))
    assert applied.pr is not None
    origin = wide.parent / "origin.git"
    record = git(origin, "log", "-p", "fleet-state", "--", "forge/prs")
    assert "role=cto" not in record and "Done." in record


def test_commits_by_another_identity_or_merges_are_refused(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/a.md", "a\n")
    job.commit(identity="cto")
    refused(apply(wide, job.outputs()), "is not authored and committed as fleet-wide@")
    assert_not_pushed(wide)


def test_proposed_task_files_need_declaring_and_must_be_new(agent_repo: Path) -> None:
    job = AgentJob(agent_repo, role="tester", task="t-100")
    job.write("out/report.md", "r\n")
    job.write("fleet/roles/new.yaml", "name: new\n")  # tester may not write fleet/
    job.commit()
    refused(apply(agent_repo, job.outputs()), "fleet/roles/new.yaml")


def test_reapplying_the_same_outputs_duplicates_nothing(wide: Path) -> None:
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        env = {
            "GITHUB_TOKEN": gh.token,
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
            "FLEET_GITHUB_WRITE_INTERVAL": "0",
            "FLEET_GITHUB_BACKOFF": "0",
        }
        job = AgentJob(wide, **env)
        job.write("docs/a.md", "a\n")
        job.commit()
        directory = job.outputs(
            escalations=[outputs.EscalationOut("decision", "Which?", "A or B?")],
            comments=[outputs.CommentOut("Revised.")],
        )
        first = apply(wide, directory, **env)
        writes = [m for m, _ in gh.log if m != "GET"]
        state = git(wide.parent / "origin.git", "rev-parse", "fleet-state")
        second = apply(wide, directory, **env)
        assert [m for m, _ in gh.log if m != "GET"] == writes
        assert git(wide.parent / "origin.git", "rev-parse", "fleet-state") == state
    assert first.pr is not None and len(first.issues) == 1 and not first.already
    assert second.already and second.record.outcome == "done"
    assert len(gh.pulls()) == 1 and len(gh.comments) == 2  # the agent's, the run's progress
    assert sum("fleet:kind=progress-" in c["body"] for c in gh.comments) == 1


def test_outputs_of_another_run_are_refused(wide: Path) -> None:
    job = AgentJob(wide)
    job.outputs()
    with pytest.raises(outputs.OutputsError, match="not the claimed"):
        apply(wide, job.out, run_id="20261124T103000Z-wide-000000")


def test_a_dead_agent_job_is_recorded_not_left_running(wide: Path, tmp_path: Path) -> None:
    job = AgentJob(wide)
    applied = apply(wide, tmp_path / "empty", run_id=job.record.run_id)
    assert applied.record.outcome == "error" and "without writing outputs" in applied.record.reason
    again = apply(wide, tmp_path / "empty", run_id=job.record.run_id)
    assert again.already


def test_a_cancelled_agent_jobs_partial_work_becomes_a_draft(wide: Path) -> None:
    job = AgentJob(wide)
    job.write("docs/half.md", "half\n")
    job.commit()
    applied = apply(wide, job.outputs(run={"outcome": "running", "ended": None}, pr=None))
    assert applied.pushed and applied.pr is not None and applied.pr.draft
    assert applied.record.outcome == "error" and "cancelled" in applied.record.reason


@pytest.mark.parametrize("where", ["pr", "escalation", "comment"])
def test_a_forged_agent_job_cannot_post_live_mentions_or_closing_keywords(
    wide: Path, where: str
) -> None:
    """The agent phase neutralises what it writes, but apply does not trust that: a
    compromised agent job that writes `outputs.json` by hand with a live mention or a
    closing keyword gets that output blocked (apply does not re-neutralise, which would
    mangle the runner's own Markdown)."""
    live = "Done. @founder-ben please merge; Fixes #1 and closes acme/fleet#2"
    applied = post_text_at(wide, where, live)
    assert applied.review is not None
    assert where in " ".join(applied.review.blocked)
    state = git(wide.parent / "origin.git", "log", "-p", "fleet-state", "--", "forge")
    assert "@founder-ben please" not in state and "Fixes #1" not in state


def test_a_closing_keyword_in_an_agent_commit_message_is_refused(wide: Path) -> None:
    """Merging a commit whose message says `Fixes #1` closes issue 1: the agent job
    writes its own commits, so their messages are checked too."""
    job = AgentJob(wide)
    job.write("docs/a.md", "a\n")
    job.commit("t-200: work\n\nFixes #1")
    applied = apply(wide, job.outputs())
    assert applied.review is not None and not applied.review.bundle_ok
    assert any("closing" in r for r in applied.review.refusals)
    assert "fleet/wide/t-200" not in remote_branches(wide)


def test_runner_bodies_pass_the_live_reference_check() -> None:
    """The check must not block the runner's own neutralised bodies."""
    from runner.neutralize import for_post, live_references

    hostile = "@founder-ben Fixes #1, closes acme/x#2, resolves https://github.com/a/b/issues/3"
    assert live_references(hostile)
    assert live_references(for_post(hostile)) == []
    assert (
        live_references("### Summary\n- [ ] the checklist\n`@code` and\n```\nfixes #9\n```") == []
    )
