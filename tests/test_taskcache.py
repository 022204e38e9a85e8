"""The task cache (runner/taskcache.py) is a speed-up only: whatever it holds, loading
gives what a fresh parse gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runner import taskcache
from runner.load import load
from runner.taskcache import TaskCache, open_cache, text_key

INVALID = "id: t-900\ntitle: No role, no acceptance\n"
DUPLICATE_KEY = (
    "id: t-901\ntitle: Twice\ntitle: Twice again\nrole: cto\nacceptance: [{review: ok}]\n"
)


def _summary(loaded):
    return loaded.fleet.tasks, [f.to_dict() for f in loaded.findings]


def _entries(where: Path, kind: str = "task") -> dict:
    cache = open_cache(where, kind)
    assert cache is not None
    return cache.entries


def test_a_warm_cache_loads_the_same_fleet_as_a_fresh_parse(example: Path, tmp_path: Path):
    (example / "tasks/t-900.yaml").write_text(INVALID)
    fresh = load(example)
    first = load(example, cache=tmp_path / "c")
    stored = _entries(tmp_path / "c")
    assert len(stored) == len(fresh.fleet.tasks)  # every valid task file, no invalid one
    assert _entries(tmp_path / "c", "role") and _entries(tmp_path / "c", "fleet")
    second = load(example, cache=tmp_path / "c")
    assert _summary(first) == _summary(second) == _summary(fresh)
    assert any(f.path == "tasks/t-900.yaml" for f in second.errors)
    # positions still come from the file's own text on a hit
    doc = second.docs["tasks/t-001.yaml"]
    assert doc.position(("role",)) == fresh.docs["tasks/t-001.yaml"].position(("role",))


def test_a_hit_is_used_so_whoever_holds_the_key_could_forge(example: Path, tmp_path: Path):
    """The HMAC key is the cache's whole protection: an entry written with it is taken
    as the file's data (which is why the key is 0600 and never in the checkout)."""
    load(example, cache=tmp_path / "c")
    cache = open_cache(tmp_path / "c")
    assert cache is not None
    text = (example / "tasks/t-001.yaml").read_text()
    cache.put(text_key(text), {**cache.entries[text_key(text)], "title": "From the cache"})
    cache.save()
    assert load(example, cache=tmp_path / "c").fleet.tasks["t-001"].title == "From the cache"


def test_loading_only_the_config_reads_no_task_cache(example: Path, tmp_path: Path) -> None:
    load(example, tasks=False, cache=tmp_path / "c")
    assert not (tmp_path / "c" / "task.json").exists()
    assert (tmp_path / "c" / "role.json").is_file()


def test_an_edited_file_misses_and_is_parsed_again(example: Path, tmp_path: Path) -> None:
    load(example, cache=tmp_path / "c")
    path = example / "tasks/t-001.yaml"
    path.write_text(path.read_text().replace("role: devops", "role: nobody"))
    loaded = load(example, cache=tmp_path / "c")
    assert any("unknown role 'nobody'" in f.message for f in loaded.errors)
    assert _entries(tmp_path / "c")[text_key(path.read_text())]["role"] == "nobody"


def test_a_tampered_cache_is_ignored_and_rewritten(example: Path, tmp_path: Path) -> None:
    load(example, cache=tmp_path / "c")
    stored = tmp_path / "c" / "task.json"
    head, body = stored.read_bytes().split(b"\n", 1)
    entries = json.loads(body)["entries"]
    text = (example / "tasks/t-001.yaml").read_text()
    entries[text_key(text)]["title"] = "Planted by someone without the key"
    stored.write_bytes(head + b"\n" + json.dumps({"entries": entries}).encode())
    assert _entries(tmp_path / "c") == {}
    loaded = load(example, cache=tmp_path / "c")
    assert loaded.fleet.tasks["t-001"].title != "Planted by someone without the key"
    assert _summary(loaded) == _summary(load(example))
    # rewritten: it verifies again, and holds the file's own data
    assert _entries(tmp_path / "c")[text_key(text)]["title"] == loaded.fleet.tasks["t-001"].title


def test_a_truncated_or_garbage_cache_is_a_miss(example: Path, tmp_path: Path) -> None:
    load(example, cache=tmp_path / "c")
    stored = tmp_path / "c" / "task.json"
    for junk in (stored.read_bytes()[:100], b"", b"\xff\x00 not a cache"):
        stored.write_bytes(junk)
        assert _entries(tmp_path / "c") == {}
        assert _summary(load(example, cache=tmp_path / "c")) == _summary(load(example))


def test_an_invalid_file_stays_invalid_whatever_the_cache_says(
    example: Path, tmp_path: Path
) -> None:
    """Entries written with the key but for another schema or runner (another salt) are
    not used: a file valid under an old schema is validated under the new one."""
    (example / "tasks/t-900.yaml").write_text(INVALID)
    cache = open_cache(tmp_path / "c")
    assert cache is not None
    valid = {"id": "t-900", "title": "x", "role": "cto", "acceptance": [{"review": "ok"}]}
    other = TaskCache(cache.path, cache.key, b"another schema or runner version")
    other.put(text_key(INVALID), valid)
    other.save()
    assert _entries(tmp_path / "c") == {}
    loaded = load(example, cache=tmp_path / "c")
    assert "t-900" not in loaded.fleet.tasks
    assert any(f.path == "tasks/t-900.yaml" for f in loaded.errors)
    assert text_key(INVALID) not in _entries(tmp_path / "c")


def test_a_file_with_yaml_problems_is_never_cached(example: Path, tmp_path: Path) -> None:
    (example / "tasks/t-901.yaml").write_text(DUPLICATE_KEY)
    for _ in range(2):
        loaded = load(example, cache=tmp_path / "c")
        assert text_key(DUPLICATE_KEY) not in _entries(tmp_path / "c")
        assert any(f.code == "duplicate-key" for f in loaded.errors)


def test_a_cache_others_can_write_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    assert open_cache(shared) is None
    mine = tmp_path / "mine"
    assert open_cache(mine) is not None
    (mine / "key").chmod(0o644)
    assert open_cache(mine) is None


def test_where_the_cache_lives() -> None:
    assert taskcache.directory({"FLEET_CACHE_DIR": "off", "HOME": "/h"}) is None
    assert taskcache.directory({"FLEET_CACHE_DIR": "/c"}) == Path("/c")
    assert taskcache.directory({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/fleet-runner")
    assert taskcache.directory({"HOME": "/h"}) == Path("/h/.cache/fleet-runner")
    assert taskcache.directory({}) is None
    hosted = {"RUNNER_ENVIRONMENT": "github-hosted", "HOME": "/h"}
    assert taskcache.directory(hosted) is None  # a discarded machine: writing only costs
    assert taskcache.directory({**hosted, "FLEET_CACHE_DIR": "/c"}) == Path("/c")
    assert taskcache.directory({"RUNNER_ENVIRONMENT": "self-hosted", "HOME": "/h"}) == Path(
        "/h/.cache/fleet-runner"
    )


def test_the_cli_fills_the_cache_and_a_second_plan_prints_the_same(
    example: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "FLEET_CACHE_DIR": str(tmp_path / "c"), "FLEET_FORGE": "local"}
    env["FLEET_NOW"] = "2026-11-24T10:30:00Z"
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=example, check=True)
    subprocess.run(
        ["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "f"],
        cwd=example,
        check=True,
    )
    plan = [sys.executable, "-m", "runner", "-C", str(example), "plan", "--format", "json"]
    first = subprocess.run(plan, env=env, capture_output=True, text=True, check=True)
    assert (tmp_path / "c" / "task.json").is_file()
    second = subprocess.run(plan, env=env, capture_output=True, text=True, check=True)
    off = subprocess.run(
        plan, env={**env, "FLEET_CACHE_DIR": "off"}, capture_output=True, text=True, check=True
    )
    assert first.stdout == second.stdout == off.stdout
