"""Cycle detection over tool-call keys (pure)."""

from __future__ import annotations

from runner.agent.cycles import describe, key, period


def _k(name: str, path: str, result: str = "ok") -> str:
    return key(name, {"path": path}, result, False)


def test_a_b_alternation_is_a_cycle_of_two() -> None:
    a, b = _k("read_file", "a"), _k("read_file", "b")
    assert period([a, b, a, b, a]) == 0  # not yet three full repeats
    assert period([a, b, a, b, a, b]) == 2
    assert describe([a, b, a, b, a, b], 2) == 'read_file {"path": "a"} -> read_file {"path": "b"}'


def test_one_call_three_times_and_longer_cycles() -> None:
    a, b, c, d = (_k("read_file", p) for p in "abcd")
    assert period([b, a, a, a]) == 1
    assert period([a, b, c] * 3) == 3
    assert period([a, b, c, d] * 3) == 4
    assert period([a, b, c, d, a] * 3) == 0  # longer than the window


def test_changed_results_are_progress_not_a_cycle() -> None:
    reads = [_k("read_file", "a", f"version {i}") for i in range(6)]
    assert period(reads) == 0
    edit = [_k("edit_file", "a", "edited"), _k("run_acceptance", "", "FAIL")]
    assert period(edit * 3) == 2  # same edit, same failure: no progress
