from __future__ import annotations

from pathlib import Path

from runner.yamlfile import parse, read_text


def test_marks_point_at_keys_and_items() -> None:
    doc = parse("a: 1\nb:\n  - x\n  - c: 2\n")
    assert doc.data == {"a": 1, "b": ["x", {"c": 2}]}
    assert doc.marks[("b",)] == (2, 1)
    assert doc.marks[("b", 1)] == (4, 5)
    assert doc.marks[("b", 1, "c")] == (4, 5)
    assert doc.position(("b", 1, "c", "missing")) == (4, 5)


def test_scalars_keep_json_types_and_dates_stay_text() -> None:
    doc = parse("i: 3\nf: 1.5\nt: true\nn: null\nd: 2026-11-24\ns: '007'\n")
    assert doc.data == {"i": 3, "f": 1.5, "t": True, "n": None, "d": "2026-11-24", "s": "007"}


def test_keys_are_text_as_written() -> None:
    assert parse("on: 1\n1: x\n").data == {"on": 1, "1": "x"}


def test_merge_keys_resolve() -> None:
    doc = parse("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert doc.data["other"] == {"x": 1, "y": 2}


def test_duplicate_key_reported_with_both_lines() -> None:
    doc = parse("a: 1\nb: 2\na: 3\n")
    (problem,) = doc.problems
    assert (problem.line, problem.code) == (3, "duplicate-key")
    assert "first defined on line 1" in problem.message


def test_syntax_error_has_position() -> None:
    doc = parse("a: [1, 2\nb: 3\n")
    assert doc.data is None
    assert doc.problems[0].line == 2


def test_recursive_alias_is_bounded() -> None:
    doc = parse("a: &a [*a]\n")
    assert doc.data is None or doc.problems


def test_read_text_strips_bom_and_reports_encoding(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_text(tmp_path, "bom.yaml") == ("a: 1\n", None)
    (tmp_path / "bad.yaml").write_bytes(b"a: 1\nb: \xff\n")
    text, problem = read_text(tmp_path, "bad.yaml")
    assert text is None
    assert (problem.line, problem.col, problem.code) == (2, 4, "encoding")


def test_symlink_inside_repo_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    assert read_text(tmp_path, "link.yaml") == ("a: 1\n", None)
