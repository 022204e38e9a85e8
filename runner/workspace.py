"""Everything a command that acts needs, opened once at the edge: the loaded fleet, git,
the state branch, the clock. Core modules receive these as plain values."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runner import basecfg, clock, heap
from runner.errors import ConfigError as ConfigError
from runner.gitrepo import Git
from runner.ledger_index import Scope
from runner.lifecycle import derive_all, hold_on_credentials
from runner.load import load, require_git_root
from runner.model import Fleet
from runner.records import ForgeView, RunRecord, TaskState
from runner.state import Ledger, StateStore
from runner.taskcache import directory
from runner.tasks import is_task_file, quarantine


@dataclass
class Workspace:
    root: Path
    fleet: Fleet
    git: Git
    ledger: Ledger
    clock: clock.Clock
    environ: Mapping[str, str]

    @property
    def now(self) -> datetime:
        """A live reading of the workspace's clock (never a snapshot: a run's end is
        later than its start)."""
        return self.clock.now()

    @property
    def remote(self) -> str | None:
        return self.ledger.store.remote

    def head_ref(self) -> str:
        """The base branch as this clone knows it (local branch, else remote-tracking)."""
        base = self.fleet.config.forge.base_branch
        for ref in (f"refs/heads/{base}", f"refs/remotes/{self.remote}/{base}"):
            if (self.remote or ref.startswith("refs/heads/")) and self.git.rev(ref):
                return ref
        return "HEAD"

    def work_branches(self) -> dict[str, str]:
        """task id -> role, for every work branch, local or on the remote."""
        prefix = self.fleet.config.forge.branch_prefix
        refs = [f"refs/heads/{prefix}"]
        if self.remote:
            refs.append(f"refs/remotes/{self.remote}/{prefix}")
        if self.remote and self.git.is_shallow():
            # a shallow checkout fetched the base branch alone: ask the remote for the
            # names (all a state needs), not the branches
            listed = self.git.run("ls-remote", "--heads", self.remote).split()[1::2]
            refs = [f"refs/heads/{prefix}"]
            out = "\n".join(r for r in listed if r.startswith(refs[0]))
            out += "\n" + self.git.run("for-each-ref", "--format=%(refname)", *refs)
        else:
            out = self.git.run("for-each-ref", "--format=%(refname)", *refs)
        found = {}
        for ref in out.split():
            tail = next(ref[len(base) :] for base in refs if ref.startswith(base))
            role, _, task = tail.partition("/")
            if role in self.fleet.roles and task and "/" not in task:
                found[task] = role
        return found

    @property
    def today(self) -> str:
        """The current UTC day, YYYY-MM-DD: the day budgets count."""
        return self.now.strftime("%Y-%m-%d")

    def runs(self, scope: Scope | None = None) -> list[RunRecord]:
        """The runs a command needs, oldest first; by default what planning reads: today's
        records (spend), the first and last run of every task (states), every role's last
        run (schedules). Cost follows the scope, not the length of the ledger."""
        with heap.long_lived():  # read once, kept until the command ends
            return self.ledger.select(scope or Scope(today=self.today, tasks=True, roles=True))

    def states(self, runs: list[RunRecord], forge: ForgeView | None = None) -> dict[str, TaskState]:
        """Derived task states from the ledger, the forge's view and the work branches."""
        from runner.lease import live_leases

        forge = forge or ForgeView()
        live = frozenset(
            str(lease.get("run_id")) for lease in live_leases(self.ledger.store, self.now).values()
        )
        view = ForgeView(
            forge.open_prs,
            hold_on_credentials(forge.escalations, self.fleet.tasks, self.fleet.roles),
            frozenset(self.work_branches()) | forge.branches,
            live | forge.live_runs,
        )
        return derive_all(self.fleet.tasks, runs, view, self.now)


def git_env(environ: Mapping[str, str]) -> dict[str, str] | None:
    """git's environment: inside Actions, the token as an HTTP header for the runner's own
    fetches and pushes, so checkout need not persist it in .git/config, where an agent's
    commands could read it. Tool subprocesses never get this environment."""
    from runner.forge import app_auth

    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    if not server.startswith("https://"):
        return None
    token = app_auth.token(environ)  # an App's installation token when one is configured
    if not token:
        return None
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    env = dict(environ)
    index = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    env.update(
        {
            "GIT_CONFIG_COUNT": str(index + 1),
            f"GIT_CONFIG_KEY_{index}": f"http.{server}/.extraheader",
            f"GIT_CONFIG_VALUE_{index}": f"AUTHORIZATION: basic {basic}",
        }
    )
    return env


def open_workspace(
    root: Path,
    environ: Mapping[str, str] | None = None,
    *,
    tasks: bool = True,
    allow_errors: bool = False,
    from_base: bool = True,
) -> Workspace:
    """Errors in fleet.yaml, roles or directives are fatal (every role depends on them);
    a task file with errors is quarantined: left out of `fleet.tasks` and listed in
    `fleet.problems`, so the rest of the fleet runs. `allow_errors` keeps everything, and
    `from_base=False` reads the checkout, only for commands that report on a PR's own
    files (its plan comment) and run no agent."""
    environ = os.environ if environ is None else environ
    cache = directory(environ)
    with heap.long_lived():
        loaded = load(root, tasks=tasks, cache=cache)
    git = Git(loaded.fleet.root, git_env(environ))
    require_git_root(git, loaded.fleet.root)
    source, note = loaded.fleet.root, ""
    try:  # roles, tasks and checks only ever come from the base branch (issue 11, S6)
        if from_base:
            source, note = basecfg.snapshot(git, source, loaded.fleet.config.forge, environ)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if note:
        with heap.long_lived():
            loaded = load(source, tasks=tasks, cache=cache)
        print(f"fleet: {note}", file=sys.stderr)
    fatal = [f for f in loaded.errors if not is_task_file(f.path)]
    if fatal and not allow_errors:
        first = fatal[0]
        raise ConfigError(
            f"the fleet's configuration has {len(fatal)} error(s), e.g. "
            f"{first.path}:{first.line}: {first.message}; run 'fleet validate' and fix them "
            "first"
        )
    fleet = loaded.fleet if allow_errors else quarantine(loaded.fleet, loaded.findings)
    forge = loaded.fleet.config.forge
    try:
        fleet_clock = clock.from_env(environ)
    except ValueError as exc:
        raise ConfigError(f"FLEET_NOW is not an ISO 8601 time: {exc}") from None
    store = StateStore(git, forge.state_branch, forge.remote)
    return Workspace(git.root, fleet, git, Ledger(store), fleet_clock, environ)
