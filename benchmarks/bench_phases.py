"""What the trust boundary costs a shell-engine run: one process (`fleet run`, no
sandbox) against the same run with the sandbox, and against the split the workflows
use (`fleet claim`, `fleet run --phase agent` into an outputs directory, `fleet apply`),
sandbox on. Median of N, all in the same run, each on a fresh copy of the example fleet
(devops on t-001, local forge, a bare origin); command start-up (Python, imports) is
excluded, since each Actions job pays it anyway. Target (issue 11): the sandbox and the
two phases add < 1 s median.

Run: python benchmarks/bench_phases.py [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from runner import scaffold
from runner.agent.jail import probe
from runner.commands import apply as apply_cmd
from runner.commands import run as run_cmd

GIT = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@x",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@x",
}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)
    return out.stdout.decode()


def fresh(base: Path, name: str, sandbox: str) -> Path:
    """The example fleet committed and pushed to its own bare origin."""
    root, origin = base / name / "fleet", base / name / "origin.git"
    scaffold.write(root, scaffold.files(example=True, name="bench"))
    fleet_yaml = root / "fleet/fleet.yaml"
    fleet_yaml.write_text(fleet_yaml.read_text() + f"sandbox: {sandbox}\n")
    _git(base, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "bench")
    _git(root, "remote", "add", "origin", str(origin))
    _git(root, "push", "-q", "origin", "main")
    return root


def one_phase(root: Path) -> None:
    code = run_cmd.run(root, role="devops", task="t-001", dry_run=False, trigger="bench")
    assert code == 0


def two_phases(root: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert apply_cmd.run_claim(root, role="devops", task="t-001", trigger="bench") == 0
    run_id = out.getvalue().strip().splitlines()[-1]
    outputs = root.parent / "outputs"
    assert (
        run_cmd.run_agent(root, role="devops", task="t-001", run_id=run_id, directory=outputs) == 0
    )
    assert apply_cmd.run(root, directory=outputs, run_id=run_id) == 0


def measure(
    base: Path, label: str, sandbox: str, fn: Callable[[Path], None], n: int
) -> list[float]:
    times = []
    for i in range(n):
        root = fresh(base, f"{label}-{i}", sandbox)
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            fn(root)
            times.append(time.perf_counter() - start)
        branch = _git(
            root.parent / "origin.git", "ls-tree", "-r", "--name-only", "fleet/devops/t-001"
        )
        assert "ci/pipeline.sh" in branch, f"{label}: the run pushed no work"
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    n = parser.parse_args().runs
    jail = probe("auto")
    sandbox = "required" if jail.isolated else "off"
    os.environ.update({"FLEET_FORGE": "local", "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    os.environ.pop("GITHUB_TOKEN", None)
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        base = Path(tmp)
        base.chmod(0o711)  # the jail's user must reach the work tree
        floor = measure(base, "floor", "off", one_phase, n)
        boxed = measure(base, "boxed", sandbox, one_phase, n)
        split = measure(base, "split", sandbox, two_phases, n)
    f, b, s = (statistics.median(t) for t in (floor, boxed, split))
    where = jail.name if jail.isolated else f"none: {jail.reason}"
    print(f"shell-engine run, median of {n} (sandbox: {where})")
    rows = (
        ("one phase, no sandbox (floor)", f, ""),
        ("one phase, sandbox", b, f"  (+{(b - f) * 1000:.0f} ms, {b / f:.2f}x)"),
        ("claim + agent + apply, sandbox", s, f"  (+{(s - f) * 1000:.0f} ms, {s / f:.2f}x)"),
    )
    for label, value, extra in rows:
        print(f"  {label:<36}{value * 1000:7.0f} ms{extra}")
    print(f"  {'the two phases alone (split - boxed)':<36}{(s - b) * 1000:+7.0f} ms, {s / b:.2f}x")
    added = s - f
    print(
        f"added by sandbox + phases: {added * 1000:.0f} ms (target < 1000 ms): "
        + ("ok" if added < 1.0 else "OVER")
    )
    return 0 if added < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
