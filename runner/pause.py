"""The kill switch: the repository variable `FLEET_PAUSED`, or `paused: true` in
fleet.yaml, stops the fleet.

Two switches because they serve two moments: the variable takes effect on the next job
without a commit (a founder stopping runaway agents from the Settings page, or from a
phone), the file setting is reviewed and versioned. Either one pauses. The variable
fails closed: any value but empty, 0, false, no or off pauses, so a typo never resumes.
"""

from __future__ import annotations

from collections.abc import Mapping

OFF = ("", "0", "false", "no", "off")


def reason(environ: Mapping[str, str], paused_in_config: bool = False) -> str | None:
    """Why the fleet is paused, or None when it is not."""
    value = environ.get("FLEET_PAUSED", "").strip()
    if value.lower() not in OFF:
        return f"FLEET_PAUSED is set ({value[:20]!r})"
    if paused_in_config:
        return "fleet/fleet.yaml says paused: true"
    return None


def notice(why: str, command: str) -> str:
    """The one line a paused command prints (and puts in the job summary)."""
    return (
        f"fleet is paused: {why}; {command} did nothing (no model call, no write). "
        "To resume, unset the repository variable FLEET_PAUSED and/or remove "
        "`paused: true` from fleet/fleet.yaml."
    )


def announce(environ: Mapping[str, str], paused_in_config: bool, command: str) -> str | None:
    """The notice if the fleet is paused (also written to the Actions job summary), else
    None. Called by every acting command before its first model call or write."""
    from runner import actions

    why = reason(environ, paused_in_config)
    if why is None:
        return None
    text = notice(why, command)
    actions.write_summary(environ, f"**Paused.** {text}")
    return text
