from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("anthropic", "github", "git", "mcp", "openai", "boto3", "botocore")


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"]])
def test_help_does_not_import_heavy_clients(args: list[str]) -> None:
    code = (
        "import sys\nfrom runner.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_validate_does_not_import_heavy_clients(example: Path) -> None:
    (example / "fleet/roles/cto.yaml").write_text(
        (example / "fleet/roles/cto.yaml").read_text()
        + "mcp_servers:\n  docs: {command: docs-mcp, env: [DOCS_TOKEN]}\n"
        + "mcp_tools: ['docs/*']\n"
        + "provider: openai-compatible\n"  # validate asks the engine about its provider
    )
    for role in ("ceo", "marketing"):
        path = example / f"fleet/roles/{role}.yaml"
        path.write_text(path.read_text() + "provider: bedrock\n")
    (example / "fleet/fleet.yaml").write_text(
        (example / "fleet/fleet.yaml").read_text()
        + "providers:\n  openai-compatible: {base_url: 'http://127.0.0.1:8000/v1'}\n"
        + "  bedrock: {region: eu-west-1}\n"
    )
    code = (
        "import sys\nfrom runner.cli import main\n"
        f"rc = main(['-C', {str(example)!r}, 'validate'])\n"
        f"print(rc, [m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout


def test_example_validates_clean(example: Path, fleet_cli) -> None:
    result = fleet_cli("-C", str(example), "validate")
    assert result.exit_code == 0, result.output
    assert "no problems" in result.stderr


def test_this_repository_validates_clean(fleet_cli) -> None:
    root = Path(__file__).parent.parent
    result = fleet_cli("-C", str(root), "validate")
    assert result.exit_code == 0, result.output


def test_outside_a_fleet_is_a_usage_error(tmp_path: Path, fleet_cli) -> None:
    result = fleet_cli("-C", str(tmp_path), "validate")
    assert result.exit_code == 2
    assert "fleet init" in result.output


def test_validate_formats(example: Path, fleet_cli) -> None:
    (example / "tasks" / "t-001.yaml").write_text(
        "id: t-001\ntitle: x\nrole: nobody\nacceptance:\n  - review: 'a, b: c'\n"
    )
    text = fleet_cli("-C", str(example), "validate")
    assert text.exit_code == 1
    assert text.stdout.startswith("tasks/t-001.yaml:3:1: error: unknown role 'nobody'")
    gh = fleet_cli("-C", str(example), "validate", "--format", "github")
    assert gh.stdout.startswith("::error file=tasks/t-001.yaml,line=3,col=1,title=unknown-role::")
    data = json.loads(fleet_cli("-C", str(example), "validate", "--format", "json").stdout)
    assert {k for f in data for k in f} == {
        "path",
        "line",
        "col",
        "severity",
        "code",
        "field",
        "message",
    }
    assert data[0]["field"] == "/role"


def test_validate_paths_filter_and_are_relative_to_C(example: Path, fleet_cli) -> None:
    (example / "tasks" / "t-001.yaml").write_text("id: t-001\n")
    only_roles = fleet_cli("-C", str(example), "validate", "fleet/roles")
    assert only_roles.exit_code == 0
    one = fleet_cli("-C", str(example), "validate", "tasks/t-001.yaml")
    assert one.exit_code == 1
    missing = fleet_cli("-C", str(example), "validate", "tasks/nope.yaml")
    assert missing.exit_code == 2


def test_github_annotation_escapes_newlines_and_percent() -> None:
    from runner.findings import render
    from runner.model import Finding

    out = render([Finding("a,b.yaml", 1, 1, "error", "50%\nnext")], "github")
    assert out == "::error file=a%2Cb.yaml,line=1,col=1,title=schema::50%25%0Anext"
