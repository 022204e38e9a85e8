"""A week of the fleet, tried as a new user would (issue 12, "Done means"): the real CLI,
the scripted Messages API and each forge (the local one, the GitHub fake), with FLEET_NOW
moved on day by day. Every kind of stop the issue names happens once: a run stopped at
max_turns, a failure answered by a human, an invalid task file merged, a dead model key
with three roles due, a merge that conflicts. At the end every task is done, in progress
on a branch the next run resumes, or blocked on exactly one open escalation that asks a
clear question, and `fleet status` (JSON and text) says exactly that."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub

pytestmark = pytest.mark.slow

ROLE = """\
name: {name}
description: A role of the simulated week.
engine: anthropic
schedule: "0 9 * * *"
directives: fleet/directives/cto.md
writable: ["out/**", "tasks/**"]
commands: ["test *"]
budget: {{run_usd: 2.0, daily_usd: 8.0, max_turns: {turns}}}
max_attempts: 2
escalate_to: [founder-ana]
"""

TASK = """\
id: {id}
title: {title}
role: {role}
created: 2026-11-20
description: Write out/{id}.md.
acceptance:
  - check: test -f out/{id}.md
  - review: it reads well
"""

# a merged proposal for the shell role with no steps: `fleet validate` rejects it
BROKEN = """\
id: t-209
title: Rotate the logs
role: devops
created: 2026-11-24
description: A proposal merged without its steps.
acceptance:
  - check: test -f ops/rotate.sh
"""

ANSWER = "Write out/t-202.md with the numbers, not out/draft.md."
QUESTION = "Which launch date should the post announce?"


def day(n: int, hour: int = 9, minute: int = 30) -> str:
    """Monday 2026-11-23 is day 1; each role's schedule fires daily at 09:00."""
    return f"2026-11-{22 + n:02d}T{hour:02d}:{minute:02d}:00Z"


def write(path: str, content: str = "x\n") -> dict[str, Any]:
    return reply(tool("write_file", path=path, content=content))


def finish(summary: str = "done") -> dict[str, Any]:
    return reply(tool("finish", summary=summary))


class Router:
    """The scripted model: each request is answered from the script of the role it is
    for (its system prompt names it), so a tick's order of runs does not matter."""

    def __init__(self, scripts: dict[str, list[dict[str, Any]]]) -> None:
        self.scripts = scripts
        self.seen: dict[str, list[dict[str, Any]]] = {r: [] for r in scripts}

    def steps(self) -> list[Callable[[dict[str, Any]], dict[str, Any]]]:
        return [self.step] * sum(len(s) for s in self.scripts.values())

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        system = json.dumps(body.get("system", ""))
        role = next(r for r in self.scripts if f"You are the {r} agent" in system)
        self.seen[role].append(body)
        return self.scripts[role].pop(0)

    def first_turn(self, role: str, index: int = 0) -> str:
        return json.dumps(self.seen[role][index]["messages"][0]["content"])


@dataclass
class Week:
    """The founder's side of the week on one forge; the runner's side is the CLI."""

    repo: Path
    forge: str
    cli: Callable[..., Any]
    env: Callable[[dict[str, str]], None]
    gh: FakeGitHub | None = None
    log: list[str] = field(default_factory=list)

    def fleet(self, *args: str) -> Any:
        result = self.cli("-C", str(self.repo), *args)
        self.log.append(f"$ fleet {' '.join(args)} -> {result.exit_code}\n{result.output}")
        return result

    def tick(self, when: str, scripts: dict[str, list], key: str = "sk-good") -> tuple:
        router = Router(scripts)
        with FakeAnthropic(router.steps(), api_key="sk-good") as model:
            self.env({"FLEET_NOW": when, "ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": model.url})
            result = self.fleet("tick")
        return result, router, model

    def status(self) -> dict[str, Any]:
        out = self.fleet("status", "--format", "json")
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    def states(self) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for ts in self.status()["by_state"].values() for t in ts}

    def escalations(self) -> list[dict[str, Any]]:
        return self.status()["blocked_on_human"]

    # -- the human's acts ------------------------------------------------------------

    def answer(self, issue: str, text: str, when: str) -> None:
        self.env({"FLEET_NOW": when})
        if self.gh is None:
            out = self.fleet("local", "answer", issue, text)
            assert out.exit_code == 0, out.output
            return
        number = int(issue.removeprefix("#"))
        self.gh.user_comment(number, "founder-ana", text)
        self.gh.close(number)

    def merge(self, role: str, task: str, when: str, conflict: bool = False) -> Any:
        """Merge the agent's PR the way the forge's user would; returns the local
        forge's answer (None on GitHub, where the founder merges on the web and resolves
        a conflict by hand; `fleet local merge` tells them so)."""
        self.env({"FLEET_NOW": when})
        git(self.repo, "pull", "-q", "--no-rebase", "origin", "main")
        if self.gh is None:
            return self.fleet("local", "merge", f"{role}/{task}")
        refused = self.fleet("local", "merge", f"{role}/{task}")
        assert refused.exit_code == 2 and "merge the PR" in refused.output
        branch = f"fleet/{role}/{task}"
        git(self.repo, "fetch", "-q", "origin", f"{branch}:{branch}")
        if conflict:
            _merge_by_hand(self.repo, branch)
        else:
            git(self.repo, "merge", "--no-ff", "-q", "-m", f"Merge {branch}", branch)
        git(self.repo, "push", "-q", "origin", "main")
        (pull,) = [p for p in self.gh.pulls() if p["head"]["ref"] == branch]
        self.gh.close(pull["number"], merged=True)
        return None

    def commit(self, files: dict[str, str], message: str) -> None:
        git(self.repo, "pull", "-q", "--no-rebase", "origin", "main")
        for path, text in files.items():
            (self.repo / path).parent.mkdir(parents=True, exist_ok=True)
            (self.repo / path).write_text(text)
        commit_all(self.repo, message)
        git(self.repo, "push", "-q", "origin", "main")


def _fleet(repo: Path) -> None:
    """Three model roles due every morning, the example's shell role, no other tasks."""
    for path in (repo / "fleet/roles").iterdir():
        if path.stem != "devops":
            path.unlink()
    shutil.rmtree(repo / "tasks")
    (repo / "tasks").mkdir()
    for name, turns in (("writer", 2), ("analyst", 20), ("editor", 20)):
        (repo / f"fleet/roles/{name}.yaml").write_text(ROLE.format(name=name, turns=turns))
    for tid, role, title in (
        ("t-201", "writer", "Draft the launch notes"),
        ("t-202", "analyst", "Summarise the pricing numbers"),
        ("t-203", "editor", "Edit the onboarding guide"),
    ):
        (repo / f"tasks/{tid}.yaml").write_text(TASK.format(id=tid, role=role, title=title))
    commit_all(repo, "The week's fleet")
    git(repo, "push", "-q", "origin", "main")


@pytest.fixture(params=["local", "github"])
def week(request, repo: Path, fleet_cli, monkeypatch) -> Iterator[Week]:
    _fleet(repo)

    def env(values: dict[str, str]) -> None:
        for k, v in values.items():
            monkeypatch.setenv(k, v)

    env({"FLEET_FORGE": request.param, "PATH": "/usr/bin:/bin"})
    if request.param == "local":
        yield Week(repo, "local", fleet_cli, env)
        return
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        env(
            {
                "GITHUB_TOKEN": gh.token,
                "GITHUB_REPOSITORY": "acme/fleet",
                "GITHUB_API_URL": gh.url,
                "FLEET_GITHUB_WRITE_INTERVAL": "0",
                "FLEET_GITHUB_BACKOFF": "0",
            }
        )
        yield Week(repo, "github", fleet_cli, env, gh)


def _merge_by_hand(repo: Path, branch: str) -> None:
    """git merge, which conflicts; keep the agent's side; commit."""
    with pytest.raises(AssertionError):
        git(repo, "merge", "--no-ff", "-q", branch)
    conflicted = git(repo, "diff", "--name-only", "--diff-filter=U").split()
    assert conflicted == ["out/t-203.md"]
    git(repo, "checkout", "--theirs", "--", *conflicted)
    commit_all(repo, f"Merge {branch}, the agent's side of the conflict")


def _ledger_runs(repo: Path) -> int:
    listing = git(repo, "ls-tree", "-r", "--name-only", "fleet-state", "--", "runs/")
    return len([p for p in listing.split() if p.endswith(".json")])


# issue 12 #5 and #16: a dead key opened one escalation per due role and called the API for
# each; the preflight gate (runner.run_gates.ModelGate) checks each key once per tick
def test_a_week_ends_with_every_task_done_resumable_or_waiting_on_one_issue(week: Week) -> None:
    w = week
    # -- day 1: three roles due. writer stops at max_turns (draft), analyst fails its
    # checks twice (failure escalation, draft), editor finishes.
    ticked, _, _ = w.tick(
        day(1),
        {
            "writer": [write("out/notes.md"), write("out/more.md")],
            "analyst": [write("out/draft.md"), finish("1"), finish("2")],
            "editor": [write("out/t-203.md", "# Guide\nagent\n"), finish("edited")],
        },
    )
    assert ticked.exit_code == 0, w.log[-1]
    assert "writer/t-201: stopped" in ticked.output or "max_turns" in ticked.output
    states = w.states()
    assert states["t-201"]["state"] == "in_progress" and "draft" in states["t-201"]["reason"]
    assert states["t-202"]["state"] == "blocked"
    assert states["t-203"]["state"] == "review"
    (failure,) = w.escalations()
    assert failure["kind"] == "failure" and failure["task"] == "t-202"

    # the founder answers the failure and closes it; t-202 is in progress again
    issue = failure["id"]
    w.answer(issue, ANSWER, day(1, 15))
    assert w.states()["t-202"]["state"] == "in_progress"
    assert w.escalations() == []

    # -- day 2: both drafts are resumed to done; the answer reaches the analyst
    ticked, router, _ = w.tick(
        day(2),
        {
            "writer": [write("out/t-201.md"), finish("notes written")],
            "analyst": [write("out/t-202.md", "numbers\n"), finish("summarised")],
        },
    )
    assert ticked.exit_code == 0, w.log[-1]
    assert ANSWER in router.first_turn("analyst")
    assert "you are continuing from it" in router.first_turn("writer")
    states = w.states()
    assert {t: states[t]["state"] for t in ("t-201", "t-202", "t-203")} == dict.fromkeys(
        ("t-201", "t-202", "t-203"), "review"
    )
    for role, task in (("writer", "t-201"), ("analyst", "t-202")):
        w.merge(role, task, day(2, 16))

    # -- day 3: a merged task file that is invalid; the fleet goes on without it
    w.commit({"tasks/t-209.yaml": BROKEN}, "Merge the proposed log rotation")
    w.env({"FLEET_NOW": day(3)})
    assert w.fleet("validate").exit_code == 1
    plan = w.fleet("plan", "--format", "json")
    assert plan.exit_code == 0, plan.output
    assert "t-209" not in [d["task"] for d in json.loads(plan.stdout)["decisions"]]
    (problem,) = w.status()["problems"]
    assert problem["path"] == "tasks/t-209.yaml" and "steps" in json.dumps(problem)

    # -- day 3: a dead model key and three roles due: one preflight request, one
    # credential escalation, no run record written
    w.commit(
        {
            f"tasks/{tid}.yaml": TASK.format(id=tid, role=role, title=title)
            for tid, role, title in (
                ("t-205", "writer", "Write the changelog entry"),
                ("t-206", "analyst", "Plan the launch post"),
                ("t-207", "editor", "Proofread the FAQ"),
            )
        },
        "Three new tasks",
    )
    runs_before = _ledger_runs(w.repo)
    dead, _, model = w.tick(day(3), {}, key="sk-dead")
    assert len(model.model_requests) + len(model.requests) == 1, (model.model_requests, dead)
    (credential,) = w.escalations()
    assert credential["kind"] == "credential" and "ANTHROPIC_API_KEY" in credential["title"]
    # nothing was recorded while the key was unknown; once rejected, one record says so
    assert _ledger_runs(w.repo) == runs_before + 1

    # the founder rotates the key and closes the issue
    w.answer(credential["id"], "Rotated the key.", day(3, 14))

    # -- day 4: the three run; one is done, one stops again at max_turns (resumable),
    # one asks a decision question (blocked on one clear issue)
    ticked, _, _ = w.tick(
        day(4),
        {
            "writer": [write("out/a.md"), write("out/b.md")],
            "analyst": [reply(tool("escalate", kind="decision", summary=QUESTION))],
            "editor": [write("out/t-207.md"), finish("proofread")],
        },
    )
    assert ticked.exit_code == 0, w.log[-1]

    # -- day 5: the editor's guide conflicts with a founder's edit on main
    w.commit({"out/t-203.md": "# Guide\nfounder\n"}, "Founder edits the guide")
    merged = w.merge("editor", "t-203", day(5, 10), conflict=True)
    if merged is not None:  # the local forge's merge button: refused, with the way out
        assert merged.exit_code == 1
        assert "conflict" in merged.output.lower() and "git merge --no-ff" in merged.output
        assert "fleet local merge editor/t-203" in merged.output
        assert git(w.repo, "status", "--porcelain").strip() == "", "main is left clean"
        _merge_by_hand(w.repo, "fleet/editor/t-203")  # as the message says
        again = w.fleet("local", "merge", "editor/t-203")
        assert again.exit_code == 0, again.output
    w.merge("editor", "t-207", day(5, 11))

    # -- the end of the week: every task is in one of three states, and status says so
    _assert_end_of_week(w)


def _assert_end_of_week(w: Week) -> None:
    w.env({"FLEET_NOW": day(5, 17)})
    states = w.states()
    escalations = w.escalations()
    assert sorted(states) == ["t-201", "t-202", "t-203", "t-205", "t-206", "t-207"]
    assert {t: s["state"] for t, s in states.items()} == {
        "t-201": "done",
        "t-202": "done",
        "t-203": "done",
        "t-205": "in_progress",
        "t-206": "blocked",
        "t-207": "done",
    }
    # in progress: a draft PR on a branch the next due run resumes
    assert "draft" in states["t-205"]["reason"]
    assert git(w.repo, "ls-remote", "origin", "fleet/writer/t-205").strip()
    assert "resumes its work branch" in w.fleet("plan", "--task", "t-205").stdout
    # blocked: on exactly one open escalation, which asks the question
    (question,) = escalations
    assert question["task"] == "t-206" and question["kind"] == "decision"
    assert "launch date" in question["title"]
    # the text says the same
    text = w.fleet("status").stdout
    assert re.search(r"Blocked on a human \(1\)", text)
    assert "t-206" in text and "launch date" in text
    assert "Broken task files" in text and "tasks/t-209.yaml" in text
