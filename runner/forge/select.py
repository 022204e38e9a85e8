"""Choose the forge from the environment: GitHub inside Actions, the local forge offline."""

from __future__ import annotations

from collections.abc import Mapping

from runner.forge.base import Forge
from runner.forge.local import LocalForge
from runner.workspace import ConfigError, Workspace


def forge_name(environ: Mapping[str, str]) -> str:
    explicit = environ.get("FLEET_FORGE", "").strip().lower()
    if explicit:
        return explicit
    app = environ.get("FLEET_GITHUB_APP_ID")
    if (environ.get("GITHUB_TOKEN") or app) and environ.get("GITHUB_REPOSITORY"):
        return "github"
    return "local"


def open_forge(ws: Workspace) -> Forge:
    name = forge_name(ws.environ)
    if name == "local":
        return LocalForge(ws.ledger.store, lambda: ws.now)
    if name == "github":
        from runner.forge.github import GitHubForge

        return GitHubForge.from_env(
            ws.environ, ws.fleet.config.forge, store=ws.ledger.store, clock=ws.clock
        )
    raise ConfigError(f"FLEET_FORGE={name!r} is not a forge; use 'github' or 'local'")
