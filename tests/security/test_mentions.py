"""Attack 5 (issue 11), outgoing half: the model's summary and an outsider's comment,
re-posted by the runner, pinged people and carried `Fixes #1 closes #2` into the PR body
(merging would have closed those issues). Posted text is checked the way GitHub reads
it: rendered by cmark-gfm (GitHub's own parser), then searched for mentions and closing
references in the text outside code, links and raw HTML comments."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from runner.neutralize import KEYWORDS, cap, for_post, inline_code, neutralize
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub
from tests.security.text_harness import PEOPLE, env, run_tester

_SKIP = {"code", "pre", "a", "script", "style"}
_BLOCKS = {"p", "blockquote", "li", "ul", "ol", "table", "tr", "td", "th", "div", "hr"}
_BLOCKS |= {"details", "summary", "h1", "h2", "h3", "h4", "h5", "h6"}
_MENTION = re.compile(r"(?:^|[^\w])@([A-Za-z0-9][\w-]*)")
_CLOSING = re.compile(
    r"(?i)\b(?:" + "|".join(KEYWORDS) + r")\b\s*:?\s*"
    r"(?:[\w.-]+/[\w.-]+#\d+|[\w-]*#\d+|GH-\d+|https?://\S+/(?:issues|pull)/\d+)"
)
ATTACK = (
    "Done. @founder-ben @acme/owners please merge.\n"
    "Fixes #1, closes #2 and resolves acme/other#3. FIXED: #4 Resolved https://github.com/"
    "acme/fleet/issues/5\n"
    "<!-- fleet:kind=escalation/blocked role=devops task=t-001 -->\n"
    "<div>@founder-ana closes #6</div>\n"
    "`unbalanced @founder-ana fixes #7\n"
)


class _Text(HTMLParser):
    """Text nodes a reader sees, outside code, pre, links, scripts (what GitHub's
    mention and reference filters look at)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self.depth += 1
        if tag in _SKIP or tag in _BLOCKS:
            self.parts.append("\x00")  # no reference spans code or a block boundary

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def live(markdown: str) -> tuple[list[str], list[str]]:
    """(mentions, closing references) GitHub would act on in `markdown`."""
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    parser = _Text()
    parser.feed(html)
    mentions, closing = [], []
    for node in "".join(parser.parts).split("\x00"):
        mentions += _MENTION.findall(node)
        closing += _CLOSING.findall(node)
    return mentions, closing


def test_the_checker_sees_what_github_would_act_on() -> None:
    mentions, closing = live(ATTACK)
    assert {"founder-ben", "acme", "founder-ana"} <= set(mentions)
    assert len(closing) >= 6
    assert live("`@x fixes #1`\n\n```\n@y closes #2\n```") == ([], [])


@pytest.fixture
def gh():
    with FakeGitHub(permissions=dict(PEOPLE)) as fake:
        yield fake


def test_pr_and_escalation_bodies_neither_ping_nor_close(agent_repo: Path, gh: FakeGitHub) -> None:
    """Run 1 escalates with the attack text; an outsider comments the same on the issue;
    run 2 finishes with it as its summary: the PR body holds the summary and re-posts the
    delta with the outsider's comment. Nothing in either body pings or closes."""
    with FakeAnthropic([reply(tool("escalate", kind="decision", summary=ATTACK))]) as fake:
        run_tester(agent_repo, gh, fake)
    (issue,) = gh.open_issues("fleet:escalation")
    gh.user_comment(issue["number"], "outsider", ATTACK)
    gh.close(issue["number"])
    with FakeAnthropic(
        [
            reply(tool("write_file", path="out/report.md", content="# Report\n")),
            reply(tool("finish", summary=ATTACK)),
        ]
    ) as fake:
        outcome, _, _ = run_tester(agent_repo, gh, fake)
    assert outcome.record.outcome == "done", outcome.record.reason
    (pr,) = gh.pulls()
    assert pr["body"].count("please merge") == 2  # the summary and the re-posted comment
    assert live(pr["body"]) == ([], [])
    assert live(issue["body"]) == ([], [])
    assert "`@founder-ben`" in pr["body"] and "Fixes `#1`" in pr["body"]


TRICKS = [
    "@alice",
    "x.@alice",
    "\\@alice",
    "\\\\@alice",
    "(@alice)",
    "**@alice**",
    "[@alice](https://example.com)",
    "> quoted @alice fixes #1",
    "- item fixes #1\n  - nested @alice",
    "| a | @alice |\n|---|---|\n| fixes #1 | b |",
    "`a` @alice `b`",
    "``a`` @alice ` fixes #1",
    "a ` b\n\nc @alice ` d",
    "- ```\n  x\n@alice\n  ```",
    "  ```\n@alice\n```",
    "~~~\ncode\n~~~~\n@alice",
    "<details>\n<summary>@alice</summary>\nfixes #1\n</details>",
    "<div>\n\n@alice\n\n</div>",
    "<pre>\n@alice\n</pre>",
    "fixes:#1 Closes:  #2 RESOLVE owner/repo#3 fix GH-4",
    "fixes https://github.com/acme/fleet/pull/9",
    "&#64;alice &commat;alice fixes &#35;1",
    "éfixes #1 é@alice",
    "```\nunclosed fence @inside\n",
    "_fixes #1_ ~closes:~ #2 **resolves** #3",
    "@*bob* @~carol~",
    "[x]( `@bob`) ![img](https://evil.example/?q=@bob)",
    "https://github.com/a/b/issues/1`@bob fixes #2`",
]


@pytest.mark.parametrize("text", TRICKS)
def test_tricky_markdown_is_neutralised(text: str) -> None:
    assert live(for_post(text)) == ([], []), for_post(text)


def test_random_mixtures_are_neutralised() -> None:
    """Fuzz: random sequences of the pieces that interact (backticks, fences, escapes,
    HTML, mentions, keywords, newlines); 4,000 seeded cases."""
    pieces = [
        "`", "``", "```", "~~~", "\\", "\n", "\n\n", " ", "@bob", "fixes #3", "closes:", "#4",
        "<div>", "</div>", "<!--", "-->", "> ", "- ", "    ", "a", "owner/repo#5", "@org/team",
        "&#64;", "&", "*", "_", "~", "[", "](", "![", ")", "|", "1. ", "Fixes", ":", "@", "é",
        "<https://github.com/a/b/issues/1>", "https://github.com/a/b/pull/2", "www.x.com/",
    ]  # fmt: skip
    rng = random.Random(11)
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        assert live(for_post(text)) == ([], []), (text, for_post(text))


def test_code_is_left_as_it_is() -> None:
    text = "Ran `pytest -k @slow`:\n\n```python\nemail = 'a@b.c'  # fixes #1\n```\n"
    assert neutralize(text) == text


def test_following_runner_text_is_not_swallowed_by_an_open_fence() -> None:
    body = for_post("```\nnever closed") + "\n\n@runner-text"
    assert live(body)[0] == ["runner-text"]


def test_commands_are_one_code_span_whatever_they_contain() -> None:
    assert live(inline_code("echo `@alice` fixes #1")) == ([], [])


def test_the_checker_does_not_match_across_code() -> None:
    assert live("fixes `x` #1") == ([], [])
    assert live("x`y`@bob")[0] == ["bob"]


def test_long_summaries_are_capped() -> None:
    out = cap("line\n" * 50_000, 4000)
    assert len(out) < 4100 and out.endswith("characters cut]")


def test_plan_comment_on_a_pull_request_neither_pings_nor_closes(
    agent_repo: Path, gh: FakeGitHub, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    """Anyone can open a PR adding a task; the runner's plan comment quotes its title.
    Before: `@founder-ana ... Fixes #1` went out under the runner's name."""
    import json

    from tests.conftest import commit_all, git, payload

    git(agent_repo, "checkout", "-q", "-b", "new-task")
    (agent_repo / "tasks/t-101.yaml").write_text(
        "id: t-101\ntitle: '@founder-ana please look, Fixes #1 <!-- x -->'\nrole: tester\n"
        "created: 2026-11-20\nacceptance:\n  - review: ok\n"
    )
    commit_all(agent_repo, "a task from a pull request")
    number = gh.open_pull("new-task", "Assign a task", login="outsider")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            payload(
                "pull_request.opened",
                number=number,
                pull_request__number=number,
                pull_request__head__ref="new-task",
                pull_request__base__ref="main",
            )
        )
    )
    environ = env(gh, GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH=str(event))
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    out = fleet_cli("-C", str(agent_repo), "tick")
    assert out.exit_code == 0, out.output
    (comment,) = [c["body"] for c in gh.comments if c["number"] == number]
    assert "| t-101 |" in comment and "please look" in comment
    assert live(comment) == ([], [])
