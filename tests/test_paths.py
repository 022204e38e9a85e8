import pytest

from runner.paths import matches


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("app/main.py", "app/**", True),
        ("app/a/b/c.py", "app/**", True),
        ("application.py", "app/**", False),
        ("app", "app/**", False),
        ("CHANGELOG.md", "CHANGELOG.md", True),
        ("docs/CHANGELOG.md", "CHANGELOG.md", False),
        ("docs/x.md", "docs/*.md", True),
        ("docs/a/x.md", "docs/*.md", False),
        ("docs/a/x.md", "docs/**/*.md", True),
        ("docs/x.md", "docs/**/*.md", True),
        ("tests/test_a.py", "**/test_?.py", True),
        ("a+b/c.py", "a+b/*.py", True),
    ],
)
def test_matches(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected
