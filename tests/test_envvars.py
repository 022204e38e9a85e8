"""Numeric settings from the environment: a typo is a configuration error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.envvars import integer, number
from runner.errors import ConfigError


def test_unset_or_empty_means_the_default() -> None:
    assert number({}, "X", 1.5) == 1.5
    assert integer({"X": " "}, "X", 5) == 5


def test_valid_values() -> None:
    assert number({"X": "0.25"}, "X", 1.0) == 0.25
    assert integer({"X": "7"}, "X", 5) == 7
    assert integer({"X": "3.0"}, "X", 5) == 3


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf", "1e999", "2.5"])
def test_bad_values_are_config_errors_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="FLEET_GITHUB_RETRIES") as info:
        integer({"FLEET_GITHUB_RETRIES": raw}, "FLEET_GITHUB_RETRIES", 5)
    assert info.value.exit_code == 2
    assert "unset it" in (info.value.hint or "")


@pytest.mark.parametrize(
    "name", ["FLEET_GITHUB_RETRIES", "FLEET_GITHUB_BACKOFF", "FLEET_GITHUB_WRITE_INTERVAL"]
)
def test_cli_with_a_mistyped_github_setting_exits_2_in_one_line(
    repo: Path, fleet_cli, monkeypatch, name: str
) -> None:
    for key, value in {
        "FLEET_FORGE": "github",
        "GITHUB_TOKEN": "ghs_dummy",
        "GITHUB_REPOSITORY": "acme/fleet",
        "GITHUB_API_URL": "http://127.0.0.1:9",  # never reached: the setting fails first
        name: "abc",
    }.items():
        monkeypatch.setenv(key, value)
    result = fleet_cli("-C", str(repo), "status")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"fleet: {name}='abc' is not a"), result.stderr
    assert "Traceback" not in result.output
