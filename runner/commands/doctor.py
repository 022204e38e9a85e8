"""`fleet doctor`: is this checkout, this environment and this forge ready to run the
fleet? Each check says ok, warn or fail, and what to do about it."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from runner import engines, mcp_config
from runner.agent import jail, jailgit
from runner.agent.sandbox import RUNNER_PREFIXES
from runner.errors import FleetError
from runner.forge.base import ForgeError
from runner.forge.select import forge_name, open_forge
from runner.gitrepo import Git
from runner.load import require_git_root
from runner.workspace import ConfigError, Workspace, open_workspace

MIN_GIT = (2, 31)  # GIT_CONFIG_COUNT, used to hand the token to the runner's own pushes


@dataclass(frozen=True)
class Check:
    name: str
    level: str  # ok, warn, fail
    detail: str


def git_version(text: str) -> tuple[int, int]:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def _checks(root: Path) -> Iterator[Check]:
    version = git_version(Git(root).run("--version"))
    yield Check(
        "git",
        "ok" if version >= MIN_GIT else "fail",
        f"git {version[0]}.{version[1]}"
        + (
            "" if version >= MIN_GIT else f"; fleet-runner needs {MIN_GIT[0]}.{MIN_GIT[1]} or newer"
        ),
    )
    try:
        require_git_root(Git(root), root)
    except ConfigError as exc:
        yield Check("fleet root", "fail", _explain(exc))
        return
    yield Check("fleet root", "ok", f"{root} is the root of its git repository")
    try:
        ws = open_workspace(root)
    except FleetError as exc:  # a GitHub App's token is minted here too: a network failure
        yield Check("fleet", "fail", _explain(exc))  # is no ConfigError, and ended doctor
        return
    if ws.fleet.problems:  # quarantined: the rest of the fleet runs, these never do
        first = ws.fleet.problems[0]
        yield Check(
            "fleet",
            "fail",
            f"{len(ws.fleet.problems)} error(s) in task files, which are not planned until "
            f"fixed, e.g. {first.path}:{first.line}: {first.message}; run 'fleet validate'",
        )
    else:
        yield Check(
            "fleet",
            "ok",
            f"{len(ws.fleet.roles)} roles, {len(ws.fleet.tasks)} tasks, no validation errors",
        )
    yield from _repository(ws)
    yield from _sandbox(ws)
    yield from _credentials(ws)
    yield from _forge(ws)


def _explain(exc: FleetError) -> str:
    return f"{exc}; {exc.hint}" if exc.hint else str(exc)


def _repository(ws: Workspace) -> Iterator[Check]:
    head = ws.head_ref()
    if ws.git.rev(head) is None:
        yield Check("base branch", "fail", "no commits yet: commit the fleet files")
    else:
        yield Check("base branch", "ok", f"{ws.fleet.config.forge.base_branch} ({head})")
    if ws.remote is None:
        yield Check(
            "remote",
            "warn",
            f"no remote '{ws.fleet.config.forge.remote}': runs stay "
            "local (fine for trying the fleet, not for Actions)",
        )
    else:
        yield Check("remote", "ok", ws.remote)
    if ws.git.is_shallow():
        yield Check(
            "history",
            "warn",
            "shallow clone: sync fetches what it needs; in Actions "
            "check out with fetch-depth: 0 to save the round trips",
        )
    tip = ws.ledger.store.tip()
    yield Check(
        "ledger",
        "ok",
        f"{ws.fleet.config.forge.state_branch} at {tip[:12]}"
        if tip
        else f"no {ws.fleet.config.forge.state_branch} branch yet (the first run creates it)",
    )


def _sandbox(ws: Workspace) -> Iterator[Check]:
    """Which jail agent-run commands get here, or why none and what to do; a failure
    when fleet.yaml says `sandbox: required` (every run would refuse)."""
    mode = ws.fleet.config.sandbox
    if mode == "off":
        yield Check(
            "sandbox",
            "warn",
            "sandbox: off in fleet.yaml: agent-run commands run as the runner, unconfined",
        )
        return
    found = jail.probe("auto")
    if found.isolated:
        networked = sorted(r.name for r in ws.fleet.roles.values() if r.network)
        extra = f" (network: allow for {', '.join(networked)})" if networked else ""
        yield Check("sandbox", "ok", jail.describe(found) + extra)
        yield from _jail_git(ws, found)
        return
    what = jail.advice(found.reason, jail.apparmor_restricts_userns())
    if mode == "required":
        yield Check("sandbox", "fail", f"sandbox: required but none works: {found.reason}; {what}")
        return
    yield Check(
        "sandbox",
        "warn",
        f"none ({found.reason}): agent-run commands would run unsandboxed with a warning; {what}",
    )


def _jail_git(ws: Workspace, found: jail.Jail) -> Iterator[Check]:
    """Read-only git in the jail needs the object store reachable by the jail's user."""
    user = jail.foreign_user(found)
    if user is None:
        return
    common = Path(ws.git.run("rev-parse", "--git-common-dir").strip())
    objects = (common if common.is_absolute() else ws.root / common) / "objects"
    for store in jailgit.object_stores(objects):
        if not jailgit.reachable(store, *user):
            yield Check(
                "sandbox git",
                "warn",
                f"uid {user[0]} cannot reach {store}: git log/diff/status fail inside the "
                "sandbox; make its parent directories searchable (chmod o+x) or run fleet "
                "as a non-root user",
            )
            return


def _credentials(ws: Workspace) -> Iterator[Check]:
    yield from _engine_needs(ws)
    for role in sorted(ws.fleet.roles.values(), key=lambda r: r.name):
        missing = [c for c in role.required_env if not ws.environ.get(c)]
        reserved = [c for c in role.credentials if c.upper().startswith(RUNNER_PREFIXES)]
        if reserved:
            yield Check(
                f"role {role.name}",
                "warn",
                f"{', '.join(reserved)} are the runner's "
                "own variables and are never passed to the role's commands",
            )
        if missing:
            yield Check(
                f"role {role.name}",
                "warn",
                f"missing {', '.join(missing)}: its runs escalate kind credential until it is set",
            )
        for problem in engines.get(role.engine).check_role(role, ws.fleet.config):
            yield Check(f"role {role.name}", "warn", problem.message)
        unfound = mcp_config.unfound_commands(role, _which(ws.environ.get("PATH", "")))
        if unfound:
            yield Check(
                f"role {role.name}",
                "warn",
                f"MCP server command not found on PATH ({'; '.join(unfound)}): its runs end "
                "as error before any model call; install it in a set-up step or the workflow",
            )


def _which(path: str) -> Callable[[str], str | None]:
    return lambda command: shutil.which(command, path=path)


def _engine_needs(ws: Workspace) -> Iterator[Check]:
    """What each engine in use needs on this machine (credentials, a CLI), with the
    roles that need it: one line per need."""
    seen: dict[tuple[str, str, bool, str], list[str]] = {}
    for role in sorted(ws.fleet.roles.values(), key=lambda r: r.name):
        engine = engines.get(role.engine)
        for need in engine.needs(role, ws.environ):
            seen.setdefault((engine.name, need.name, need.ok, need.detail), []).append(role.name)
    for (engine_name, _, ok, detail), roles in seen.items():
        who = f" (roles: {', '.join(roles)})"
        yield Check(f"engine {engine_name}", "ok" if ok else "warn", detail + who)


def _forge(ws: Workspace) -> Iterator[Check]:
    name = forge_name(ws.environ)
    # a diagnosis asks once more, not five times with backoff: an unreachable GitHub kept
    # doctor silent for ~30 s before its answer (FLEET_GITHUB_RETRIES, when set, wins)
    quick = {"FLEET_GITHUB_RETRIES": "1", "FLEET_GITHUB_BACKOFF": "0.5", **ws.environ}
    try:
        forge = open_forge(dataclasses.replace(ws, environ=quick))
        view = forge.view()
    except (ForgeError, ConfigError) as exc:
        yield Check(f"forge {name}", "fail", _explain(exc))
        return
    yield Check(
        f"forge {name}",
        "ok",
        f"reachable: {len(view.open_prs)} open agent PR(s), "
        f"{sum(len(v) for v in view.escalations.values())} open escalation(s)",
    )
    if name == "github":
        from runner.forge import app_auth

        app = app_auth.configured(ws.environ)
        # the workflows pass unset secrets as empty strings: one of the two set is a
        # typo'd secret name, not a choice, and would quietly mean GITHUB_TOKEN
        unset = [n for n in (app_auth.APP_ID, app_auth.APP_KEY) if not ws.environ.get(n)]
        if len(unset) == 1:
            fix = f"; {unset[0]} is empty while the other is set: set both, or neither"
        else:
            fix = "" if app else "; set FLEET_GITHUB_APP_ID and FLEET_GITHUB_APP_PRIVATE_KEY"
        yield Check("forge auth", "ok" if app else "warn", app_auth.mode(ws.environ) + fix)


def run(root: Path, *, fmt: str) -> int:
    checks = list(_checks(root))
    if fmt == "json":
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
        for c in checks:
            click.echo(f"{marks[c.level]}  {c.name:<16} {c.detail}")
        fails = sum(c.level == "fail" for c in checks)
        warns = sum(c.level == "warn" for c in checks)
        click.echo(f"\n{fails} problem(s), {warns} warning(s).")
    return 1 if any(c.level == "fail" for c in checks) else 0
