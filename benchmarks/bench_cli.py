"""`fleet --help` start-up time against the floor of starting Python itself.

Target (issue 3): `fleet --help` under 0.3 s, importing neither anthropic nor github
(tests/test_cli.py asserts the imports; this script measures the time).

Run: python benchmarks/bench_cli.py [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()

    def run(*argv: str) -> None:
        subprocess.run([sys.executable, *argv], check=True, capture_output=True)

    floor = median_time(lambda: run("-c", "pass"), args.runs)
    help_ = median_time(lambda: run("-m", "runner", "--help"), args.runs)
    validate_help = median_time(lambda: run("-m", "runner", "validate", "--help"), args.runs)
    print(f"python -c pass (floor):   {floor * 1000:.0f} ms")
    print(f"fleet --help:             {help_ * 1000:.0f} ms ({help_ / floor:.1f}x the floor)")
    print(f"fleet validate --help:    {validate_help * 1000:.0f} ms")


if __name__ == "__main__":
    main()
