"""GitHub's timestamps against a FLEET_NOW far from the wall clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runner import sync
from runner.clock import parse
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _env

AHEAD = "2031-01-01T00:00:00Z"  # years after the fake's (wall-clock) timestamps


def test_answers_survive_a_fleet_now_ahead_of_github(repo: Path) -> None:
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        ws = open_workspace(repo, _env(gh, FLEET_NOW=AHEAD))
        first = execute(ws, open_forge(ws), "devops", "t-001", trigger="test", client_factory=None)
        assert first.record.outcome == "done" and first.pr is not None
        number = int(first.pr.id.lstrip("#"))
        gh.user_comment(number, "founder-ana", "Please also lint the shell scripts.")

        ws = open_workspace(repo, _env(gh, FLEET_NOW=AHEAD))  # a later job, same FLEET_NOW
        forge = open_forge(ws)
        checkpoint = ws.ledger.checkpoint("devops")
        assert checkpoint is not None
        events = forge.events_since("devops", checkpoint.events_since)
        delta = sync.compute(
            ws.git, ws.fleet, "devops", ws.head_ref(), checkpoint=checkpoint, events=events
        )
        assert [(e.author, e.body) for e in delta.events] == [
            ("founder-ana", "Please also lint the shell scripts.")
        ]
        # ages are measured on the runner's clock: the PR is minutes old, not years
        pull = forge.view().open_prs["t-001"]
        age = ws.now - parse(pull.created)  # the fake's clock may run a little ahead
        assert abs(age) < timedelta(minutes=5)
