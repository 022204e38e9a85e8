"""`fleet validate` over 10,000 task files vs the bare cost of reading and parsing them.

Targets (issue 3): under 2 s on the 2-core machine, within 2x of read + yaml.safe_load.
Run: python benchmarks/bench_validate.py [--tasks N] [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import median_time, synthetic_fleet

from runner.load import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        paths = synthetic_fleet(root, args.tasks)

        def read_parse(loader: type) -> None:
            for p in paths:
                yaml.load(p.read_text("utf-8"), Loader=loader)

        floor_py = median_time(lambda: read_parse(yaml.SafeLoader), args.runs)
        floor_c = median_time(lambda: read_parse(yaml.CSafeLoader), args.runs)
        loaded = load(root)
        assert not loaded.errors, loaded.errors[:3]
        in_process = median_time(lambda: load(root), args.runs)
        cli = median_time(
            lambda: subprocess.run(
                [sys.executable, "-m", "runner", "-C", str(root), "validate"],
                check=True,
                capture_output=True,
            ),
            args.runs,
        )
    print(f"tasks: {args.tasks}, runs: {args.runs} (medians)")
    print(f"floor  read + yaml.safe_load (pure Python): {floor_py:.3f} s")
    print(f"floor  read + yaml CSafeLoader:             {floor_c:.3f} s")
    print(f"load() in process:                          {in_process:.3f} s")
    print(f"fleet validate (new process):               {cli:.3f} s")
    print(f"ratio  fleet validate / safe_load floor:    {cli / floor_py:.2f}x")
    print(f"ratio  fleet validate / CSafeLoader floor:  {cli / floor_c:.2f}x")


if __name__ == "__main__":
    main()
