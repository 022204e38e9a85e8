"""The action's `sandbox: true` arranges the sandbox on a GitHub-hosted runner with
sandbox-setup.sh (bubblewrap, the AppArmor userns restriction, the fleet-sandbox user)
and then fails the job unless a jail works. The script runs here for real, as root,
twice (idempotent), under a throwaway user name so this machine's jail is unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "sandbox-setup.sh"


def test_the_action_arranges_the_sandbox_only_when_asked() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["inputs"]["sandbox"]["default"] == "false"
    steps = action["runs"]["steps"]
    setup = [s for s in steps if "sandbox-setup.sh" in s.get("run", "")]
    check = [s for s in steps if 'probe("required")' in s.get("run", "")]
    assert len(setup) == 1 and len(check) == 1
    assert setup[0]["if"] == check[0]["if"] == "inputs.sandbox == 'true'"
    assert 'sudo bash "$FLEET_ACTION_PATH/sandbox-setup.sh"' in setup[0]["run"]
    assert "${{" not in setup[0]["run"]  # the path reaches the shell as data (env)
    # set up before the install, checked after it (the check imports the runner)
    names = [s["name"] for s in steps]
    install = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
    assert names.index(setup[0]["name"]) < install < names.index(check[0]["name"])


def test_the_setup_script_refuses_without_root() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to drop to another user")
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "must run as root" in proc.stderr


def test_the_setup_script_is_idempotent_and_creates_an_unprivileged_user() -> None:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("bwrap") is None:
        pytest.skip("needs root, useradd and an installed bubblewrap (no apt-get in tests)")
    user = f"fleet-sbx-{os.getpid()}"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "FLEET_SANDBOX_USER": user}
    try:
        runs = [
            subprocess.run(
                ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False
            )
            for _ in range(2)
        ]
        entry = subprocess.run(
            ["getent", "passwd", user], capture_output=True, text=True, check=True
        ).stdout.split(":")
        groups = subprocess.run(
            ["id", "-Gn", user], capture_output=True, text=True, check=True
        ).stdout.split()
    finally:
        subprocess.run(["userdel", user], capture_output=True, check=False)
    for proc in runs:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"user {user} (uid" in proc.stdout and "bubblewrap" in proc.stdout
    assert f"creating the unprivileged user {user}" in runs[0].stdout
    assert "creating" not in runs[1].stdout and "installing" not in runs[1].stdout
    uid, shell = int(entry[2]), entry[6].strip()
    assert 0 < uid < 1000 and shell.endswith("nologin")  # a system user without a login
    assert groups == [user]  # its own group only: no sudo, no adm
