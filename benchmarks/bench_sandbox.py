"""Overhead of running a command in the sandbox (bubblewrap jail) against running it
directly, in the same run: median wall time of `true` through Sandbox.run_shell, both
ways, on a small work tree (the jail's per-command lchown walk included)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from runner.agent.jail import NoJail, probe
from runner.agent.sandbox import Sandbox

N = 30


def _median(sandbox: Sandbox) -> float:
    times = []
    for _ in range(N):
        start = time.perf_counter()
        result = sandbox.run_shell("true")
        times.append(time.perf_counter() - start)
        assert result.ok, result.output
    return statistics.median(times)


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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
