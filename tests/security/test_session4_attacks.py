"""Attacks on what landed in session 4, performed for real: the one-process `fleet run`'s
secret scan of what it posts, the task-file cache, the demo's loopback replay, and the
two on-ramps (intake, CI revision). Real parts only: the scripted Messages API and the
fake GitHub over HTTP, real git, the real jail where one can be made.

A hostile agent that wants a secret on GitHub picks the form: the scan must look at the
text as it is posted and as a reader sees it, not only at what the agent handed over
(the runner's own rendering strips invisible characters and HTML comments and resolves
entities and backslash escapes, and GitHub resolves entities when it shows a body)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _env

PLANTED = "planted-staging-pw-4f9e2a"

# The planted credential in forms a reader (or the runner's own rendering) turns back
# into the value: each would slip past a scan of the agent's raw text alone.
DISGUISED = {
    "zero-width space": "planted-stag\u200bing-pw-4f9e2a",
    "html comment": "planted-stag<!-- -->ing-pw-4f9e2a",
    "html entity": "&#112;lanted-staging-pw-4f9e2a",
    "markdown escape": "planted\\-staging-pw-4f9e2a",
}


def _seen(text: str) -> str:
    """`text` as a reader of the rendered page reads it: entities resolved, comments and
    invisible characters gone (one pass, as GitHub renders)."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = html.unescape(text)
    return re.sub("[\u200b-\u200f\u2060\ufeff]", "", text)


@pytest.mark.parametrize("form", sorted(DISGUISED))
def test_a_disguised_secret_in_an_escalation_never_reaches_github(
    agent_repo: Path, fleet_cli, monkeypatch, form: str
) -> None:
    script = [
        reply(tool("run_command", command="env")),
        reply(tool("escalate", kind="decision", summary=f"Is {DISGUISED[form]} the right one?")),
    ]
    with FakeGitHub(permissions=dict(PEOPLE)) as gh, FakeAnthropic(script) as model:
        env = _env(gh, STAGING_DATABASE_URL=PLANTED, ANTHROPIC_API_KEY="sk-ant-test")
        for k, v in {**env, "ANTHROPIC_BASE_URL": model.url}.items():
            monkeypatch.setenv(k, v)
        out = fleet_cli("-C", str(agent_repo), "run", "--role", "tester", "--task", "t-100")
        assert out.exit_code in (0, 1), out.output
        posted = [(i["title"], i["body"]) for i in gh.issues.values()]
        posted += [("", c["body"]) for c in gh.comments]
    for title, body in posted:
        assert PLANTED not in _seen(title) and PLANTED not in _seen(body), (form, title, body)
    assert [t for t, _ in posted if "withheld" in t], posted
