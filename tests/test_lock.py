"""requirements.lock (what action.yml installs) matches pyproject.toml: every dependency
and the build backend pinned inside its specifier, every pin hash-pinned, the recorded
inputs digest current, and the locked set closed under the dependencies it declares."""

from __future__ import annotations

import hashlib
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _inputs() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["project"]["dependencies"]) + list(data["build-system"]["requires"])


def parse_lock(text: str) -> tuple[dict[str, tuple[str, str | None, int]], str | None]:
    """name -> (version, marker, number of hashes); and the recorded inputs digest."""
    pins: dict[str, tuple[str, str | None, int]] = {}
    digest, current = None, None
    for line in text.splitlines():
        if line.startswith("# inputs-sha256:"):
            digest = line.split(":", 1)[1].strip()
        elif match := PIN.match(line):
            current = canonicalize_name(match[1])
            pins[current] = (match[2], match[3], 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, marker, hashes = pins[current]
            pins[current] = (version, marker, hashes + 1)
    return pins, digest


def test_every_input_is_pinned_inside_its_specifier() -> None:
    pins, _ = parse_lock((ROOT / "requirements.lock").read_text())
    for text in _inputs():
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in the lock; run .ci/lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), (
            f"{req.name}=={pins[name][0]} does not satisfy {req.specifier}; run .ci/lock"
        )


def test_every_pin_is_hash_pinned() -> None:
    pins, _ = parse_lock((ROOT / "requirements.lock").read_text())
    assert len(pins) > 10
    assert [n for n, (_, _, hashes) in pins.items() if hashes == 0] == []


def test_the_lock_records_the_current_inputs() -> None:
    _, digest = parse_lock((ROOT / "requirements.lock").read_text())
    text = "\n".join(_inputs()) + "\n"
    assert digest == hashlib.sha256(text.encode()).hexdigest(), (
        "pyproject.toml's dependencies changed since the lock was made; run .ci/lock"
    )


def test_the_locked_set_is_closed() -> None:
    """Each locked distribution installed here at its locked version declares only
    dependencies that are locked too (else `pip install --require-hashes` fails)."""
    pins, _ = parse_lock((ROOT / "requirements.lock").read_text())
    env = default_environment()
    checked = 0
    for name, (version, _, _) in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({**env, "extra": ""}):
                continue
            assert canonicalize_name(req.name) in pins, f"{name} needs {req.name}: not locked"
    assert checked > 10  # the test environment runs the locked versions


def test_parse_lock_catches_a_missing_hash() -> None:
    pins, _ = parse_lock("a==1.0 \\\n    --hash=sha256:ab\nb==2.0 ; python_version < '4'\n")
    assert pins == {"a": ("1.0", None, 1), "b": ("2.0", "python_version < '4'", 0)}
