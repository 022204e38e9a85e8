"""One claude-code run: CLI sessions in the jail, then the runner's own judgement.

Each session is one `claude -p` process in the bubblewrap jail (the work tree writable,
the CLI's files read-only, its config directory a private temp dir, the network only
with `network: allow`; the model API through the runner's relay socket, which holds the
key: runner.engines.claude_code_relay). Its stream is read as it arrives (runner.engines.
claude_code_stream), so a rejected key stops it at once instead of after the CLI's own
retries. After each session the runner sweeps (reverts and escalates writes outside the
role's globs), commits, and runs the acceptance checks from the base branch; a failure
resumes the session with the failing output, up to `max_attempts`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from runner import mcp_config
from runner.agent.cost import Usage
from runner.agent.jail import JailSpec, foreign_user
from runner.agent.jailgit import jail_env, reachable
from runner.agent.tools import Terminal
from runner.engines.base import EngineResult, Job
from runner.engines.claude_code_cli import (
    MODEL_KEY,
    argv,
    cli_env,
    prompt_text,
    resolve_cli,
    system_text,
)
from runner.engines.claude_code_relay import DEFAULT_UPSTREAM, Relay
from runner.engines.claude_code_stream import REJECTED, Stream, Verdict
from runner.gitrepo import GitError
from runner.model import McpServer

STDERR_CAP = 20_000


@dataclass(frozen=True)
class Session:
    stream: Stream
    exit_code: int | None
    stderr: str
    argv: list[str]


@dataclass(frozen=True)
class _Ctx:
    """What every session of one run shares."""

    job: Job
    cli: str
    system: str
    mcp: dict[str, object]
    config_dir: Path
    relay: Relay
    key_name: str


def run(job: Job, cli: str, key_name: str) -> EngineResult:
    """`key_name`: the engine's model_key(role), the secret a rejected key escalation names."""
    with tempfile.TemporaryDirectory(prefix="fleet-claude-") as tmp:
        Path(tmp).chmod(0o711)  # the jail's user reaches its dirs, nobody lists them
        config_dir, relay_dir = Path(tmp) / "config", Path(tmp) / "relay"
        config_dir.mkdir()
        relay_dir.mkdir()
        defaults = job.fleet.config.defaults
        relay = Relay(
            relay_dir / "api.sock",
            job.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM,
            job.environ.get(MODEL_KEY, ""),
            defaults.model_connect_timeout_s,
            defaults.model_read_timeout_s,
            price=job.price,
            budget_usd=job.limits.budget_usd,
        )
        with relay:
            ctx = _Ctx(
                job,
                cli,
                system_text(job.fleet, job.role),
                mcp_config.claude_mcp_config(job.role, job.environ),
                config_dir,
                relay,
                key_name,
            )
            return _attempts(ctx)


def _attempts(ctx: _Ctx) -> EngineResult:
    """Sessions until acceptance passes, a stop, or `max_attempts`: a failure resumes the
    session with the failing checks."""
    job, limits, result, resume = ctx.job, ctx.job.limits, EngineResult("error", ""), ""
    prompt = prompt_text(
        job.task, job.delta, limits, resume_note=job.resume_note, feedback=job.feedback
    )
    while result.attempts < limits.max_attempts:
        turns_left = limits.max_turns - result.turns
        if turns_left <= 0:
            return _stop(result, "max_turns", f"reached max_turns ({limits.max_turns})")
        budget = limits.budget_usd - result.cost_usd
        if budget <= 0:
            return _stop(result, "budget", f"spent the run's budget ({limits.budget_usd})")
        result.attempts += 1
        line = argv(ctx.cli, job.role, limits, ctx.system, ctx.mcp, max_turns=turns_left,
                    resume=resume, budget_usd=budget)  # fmt: skip
        session = _session(ctx, line, prompt)
        stream = session.stream
        result.turns += stream.turns()
        result.usage.add(stream.usage())
        result.cost_usd += stream.cost_usd()
        verdict = _metered(ctx, result, stream.verdict(session.exit_code, session.stderr,
                                                       limits.max_turns))  # fmt: skip
        if _judge(job, result, verdict):
            return result
        assert result.report is not None
        resume = stream.session_id
        prompt = (
            "The runner ran the acceptance checks and they failed; fix the work and stop "
            "again:\n" + result.report.details(failures_only=True)
        )
        if not resume:
            break
    assert result.report is not None
    result.escalation = Terminal(
        "failure",
        f"Acceptance still fails after {result.attempts} attempt(s).\n\n"
        f"{result.report.details(failures_only=True)}",
    )
    return _stop(result, "escalated", f"acceptance failed: {result.report.summary()}")


def _metered(ctx: _Ctx, result: EngineResult, verdict: Verdict) -> Verdict:
    """What the relay saw overrides what the CLI reported when it is more: model calls
    made on the socket by a command, not by the CLI, are counted (and noted), and the
    relay's refusal at the run's budget ends the run as `budget`."""
    relay = ctx.relay
    if relay.usage.output_tokens > result.usage.output_tokens:
        ctx.job.transcript.note(
            "the model API relay forwarded more than the CLI reported (calls made on its "
            "socket by a command, not by the CLI); the run counts what the relay saw"
        )
        result.usage = Usage(**relay.usage.to_dict())
        result.cost_usd = max(result.cost_usd, relay.spent_usd())
    if relay.exhausted and verdict.reason != REJECTED:
        return Verdict("budget", f"spent the run's budget ({ctx.job.limits.budget_usd:.2f} USD)")
    return verdict


def _judge(job: Job, result: EngineResult, verdict: Verdict) -> bool:
    """Sweep, commit and (after a clean finish) run acceptance; True when the run ends."""
    outside = job.branch.sweep()
    job.commit(result.turns)
    if verdict.reason == REJECTED:  # the key: one fleet-wide escalation (run.py)
        result.escalation = verdict.escalation
        return bool(_stop(result, verdict.outcome, verdict.reason))
    if outside:
        shown = "\n".join(f"- {p}" for p in outside[:50])
        job.transcript.note(f"reverted {len(outside)} change(s) outside the writable paths")
        result.escalation = Terminal(
            "failure",
            "Claude Code changed paths outside this role's writable globs "
            f"({', '.join(job.role.writable) or 'none'}); the runner reverted them:\n{shown}",
        )
        return bool(_stop(result, "escalated", "wrote outside the writable paths"))
    if verdict.outcome != "done":
        result.escalation = verdict.escalation
        job.transcript.note(f"Claude Code stopped: {verdict.outcome}: {verdict.reason}")
        return bool(_stop(result, verdict.outcome, verdict.reason))
    report = job.acceptance()
    result.report = report
    job.transcript.acceptance(
        [{"text": r.command, "kind": "check", "passed": r.ok, "output": r.output}
         for r in report.results]
    )  # fmt: skip
    if report.passed:
        result.summary = verdict.summary
        return bool(_stop(result, "done", report.summary()))
    return False


def _session(ctx: _Ctx, line: list[str], prompt: str) -> Session:
    """Run one CLI session in the jail, reading its stream as it comes."""
    job, sandbox = ctx.job, ctx.job.sandbox
    jail = sandbox.jail
    socket = ctx.relay.socket_path
    env = cli_env(sandbox.env, str(ctx.config_dir), str(socket), job.fleet.config)
    real = _reachable_cli(resolve_cli(ctx.cli), jail, ctx.config_dir.parent)
    spec = JailSpec(
        sandbox.root,
        network=job.role.network,  # the model API comes through the relay's socket
        read_only=(str(real.parent), *sandbox.read_only),
        writable=(str(ctx.config_dir), str(socket.parent)),
    )
    if jail.isolated:
        env.update(HOME="/tmp", TMPDIR="/tmp")
        env, spec = _with_git(sandbox, env, spec)
        line = [str(real), *line[1:]]
    else:
        env.setdefault("HOME", str(ctx.config_dir))
    jail.prepare(sandbox.root)
    jail.prepare(ctx.config_dir)
    jail.prepare(socket.parent)
    stream = Stream(job.transcript, ctx.key_name, _server_hints(job.role.mcp_servers))
    with tempfile.TemporaryFile() as stderr_file:
        proc = subprocess.Popen(
            jail.wrap(line, spec),
            cwd=sandbox.root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            start_new_session=True,
        )
        code = _read(proc, stream, prompt, job.limits.max_turns * job.limits.total_timeout_s)
        stderr_file.seek(0)
        err = stderr_file.read()[-STDERR_CAP:].decode("utf-8", errors="replace")
    return Session(stream, code, err, line)


def _read(proc: subprocess.Popen[bytes], stream: Stream, prompt: str, limit: float) -> int:
    """Feed the prompt, read the stream to its end (stopping the CLI when the stream says
    so, or when `limit` seconds pass), and return the exit code."""
    threading.Thread(target=_feed_stdin, args=(proc, prompt), daemon=True).start()
    timer = threading.Timer(limit, _kill, args=(proc,))
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if stream.feed(raw.decode("utf-8", errors="replace")):
                _kill(proc)  # a rejected key (the CLI would retry it) or a dead MCP server
        return proc.wait()
    except BaseException:  # the job is cancelled: the CLI's whole group goes too
        _kill(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()


def _server_hints(servers: tuple[McpServer, ...]) -> dict[str, tuple[str, str]]:
    """name -> (where it is, how to try it by hand): the built-in loop's words (runner.mcp)
    for a server that can't start or died."""
    return {s.name: (mcp_config.where(s), mcp_config.try_it(s)) for s in servers}


def _reachable_cli(real: Path, jail: object, tmp: Path) -> Path:
    """The CLI where the jail's user can reach it: as is, or (when it lies under a
    directory that user cannot search, e.g. a checkout in /root) linked or copied into
    the run's temp dir. bubblewrap mounts it as that user."""
    user = foreign_user(jail)  # type: ignore[arg-type]
    if user is None or reachable(real.parent, *user):
        return real
    here = tmp / "bin" / real.name
    if not here.exists():
        here.parent.mkdir(mode=0o755)
        try:
            os.link(real, here)
        except OSError:  # another file system
            shutil.copy2(real, here)
        here.chmod(0o755)
    return here


def _feed_stdin(proc: subprocess.Popen[bytes], prompt: str) -> None:
    try:
        assert proc.stdin is not None
        proc.stdin.write(prompt.encode())
        proc.stdin.close()
    except OSError:  # the CLI ended before reading it all: its exit says why
        pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _with_git(sandbox: object, env: dict[str, str], spec: JailSpec) -> tuple[dict, JailSpec]:
    """The CLI's git: one throwaway git directory for the session (runner.agent.jailgit),
    so `git status`/`git diff` answer; without one, git finds no repository."""
    git = getattr(sandbox, "git", None)
    if git is None or git.unavailable():
        return env, spec
    try:
        view = git.build()
    except (GitError, OSError):
        return env, spec
    spec = JailSpec(
        spec.root,
        spec.network,
        (*spec.read_only, *view.objects),
        (*spec.writable, str(view.gitdir)),
    )
    return jail_env(env, view), spec


def _stop(result: EngineResult, outcome: str, reason: str) -> EngineResult:
    result.outcome, result.reason = outcome, reason
    return result
