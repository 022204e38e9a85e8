"""Overhead of the sandbox (bubblewrap jail), in the same run:

- one command: median wall time of `true` through Sandbox.run_shell, jailed and not, on
  a small work tree (the jail's per-command lchown walk included);
- a whole shell-engine run (issue 11's target: < 1 s median added): `fleet run` of the
  example devops task t-001 (4 steps, one of them `git log` through the jail's
  throwaway git directory, and 2 acceptance checks) on the local forge, with
  `sandbox: required` against `sandbox: off`, interleaved, each on a fresh repository.

Run: python benchmarks/bench_sandbox.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from runner import scaffold
from runner.agent.jail import NoJail, probe
from runner.agent.sandbox import Sandbox
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace

N = 30
RUNS = 7


def _median(sandbox: Sandbox) -> float:
    times = []
    for _ in range(N):
        start = time.perf_counter()
        result = sandbox.run_shell("true")
        times.append(time.perf_counter() - start)
        assert result.ok, result.output
    return statistics.median(times)


def _fleet(parent: Path, mode: str) -> Path:
    root = parent / f"fleet-{mode}"
    scaffold.write(root, scaffold.files(example=True, name="bench"))
    task = root / "tasks/t-001.yaml"
    task.write_text(task.read_text().replace("steps:\n", "steps:\n  - git log --oneline -1\n"))
    cfg = root / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text() + f"sandbox: {mode}\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x")
    env.update(GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "b"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root


def _shell_run(parent: Path, mode: str) -> float:
    root = _fleet(parent, mode)
    env = {"PATH": os.environ["PATH"], "FLEET_FORGE": "local", "HOME": str(parent)}
    ws = open_workspace(root, env)
    start = time.perf_counter()
    out = execute(ws, open_forge(ws), "devops", "t-001", trigger="bench", client_factory=None)
    took = time.perf_counter() - start
    assert out.record.outcome == "done", out.record
    shutil.rmtree(root)
    return took


def whole_run() -> tuple[float, float]:
    """Median seconds of a whole shell-engine run, (sandbox: off, sandbox: required)."""
    parent = Path(tempfile.mkdtemp(prefix="fleet-bench-run-"))
    parent.chmod(0o711)  # a root runner's jail user must reach the object store
    off, on = [], []
    try:
        for _ in range(RUNS):
            off.append(_shell_run(parent, "off"))
            on.append(_shell_run(parent, "required"))
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    return statistics.median(off), statistics.median(on)


def main() -> int:
    jail = probe("auto")
    if not jail.isolated:
        print(f"no sandbox on this machine: {jail.reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        root = Path(tmp) / "w"
        root.mkdir()
        Path(tmp).chmod(0o711)
        for i in range(200):  # a small repository's worth of files
            (root / f"f{i}.txt").write_text("x\n")
        env = {"PATH": "/usr/bin:/bin"}
        bare = Sandbox(root, (), (), env, jail=NoJail("benchmark floor"))
        jailed = Sandbox(root, (), (), env, jail=jail)
        floor, boxed = _median(bare), _median(jailed)
    print(f"unsandboxed `true`: {floor * 1000:.1f} ms median of {N}")
    print(f"sandboxed   `true`: {boxed * 1000:.1f} ms median of {N} ({jail.name})")
    print(f"overhead: {(boxed - floor) * 1000:.1f} ms per command, {boxed / floor:.1f}x the floor")
    off, on = whole_run()
    print(f"shell-engine run, sandbox: off:      {off * 1000:.0f} ms median of {RUNS}")
    print(f"shell-engine run, sandbox: required: {on * 1000:.0f} ms median of {RUNS}")
    print(f"overhead: {(on - off) * 1000:.0f} ms per run (target < 1000 ms), {on / off:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
