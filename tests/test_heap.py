"""runner/heap.py: the collector is paused while the fleet loads, and only a CLI
process freezes what it loaded."""

from __future__ import annotations

import gc
import subprocess
import sys

from runner import heap


def test_in_a_host_process_nothing_is_frozen_and_the_collector_is_restored() -> None:
    frozen = gc.get_freeze_count()
    with heap.long_lived():
        assert not gc.isenabled()
        kept = [{"n": i} for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == frozen and kept
    gc.disable()
    try:
        with heap.long_lived():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


def test_a_cli_process_freezes_what_it_loaded() -> None:
    code = (
        "import gc\nfrom runner import heap\nheap.own()\n"
        "with heap.long_lived():\n    kept = [{'n': i} for i in range(1000)]\n"
        "print(gc.get_freeze_count() >= 1000, gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
