#!/usr/bin/env bash
# Arrange the sandbox for agent-run commands on a Debian/Ubuntu machine (GitHub-hosted
# runners), as root, before the agent runs; the action runs it with `sandbox: true`.
#  - bubblewrap from the distribution's archive (never a download of our own);
#  - Ubuntu 24.04 restricts unprivileged user namespaces with AppArmor, which stops
#    bubblewrap: the restriction is relaxed for this (throwaway) machine;
#  - the dedicated unprivileged user `fleet-sandbox`, which a root runner drops to
#    (rather than `nobody`); no home, no shell, no sudo.
# Idempotent: each step is skipped when already done. Exit 2 when not run as root.
set -euo pipefail

user="${FLEET_SANDBOX_USER:-fleet-sandbox}"
if [ "$(id -u)" != 0 ]; then
  echo "sandbox-setup: must run as root (sudo bash $0)" >&2
  exit 2
fi

if ! command -v bwrap > /dev/null 2>&1; then
  echo "sandbox-setup: installing bubblewrap (distribution package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap > /dev/null
fi

restrict=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [ -r "$restrict" ] && [ "$(cat "$restrict")" = 1 ]; then
  echo "sandbox-setup: relaxing AppArmor's unprivileged user namespace restriction"
  sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0
fi

if ! getent passwd "$user" > /dev/null; then
  echo "sandbox-setup: creating the unprivileged user $user"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$user"
fi

echo "sandbox-setup: $(bwrap --version), user $user (uid $(id -u "$user"))," \
  "userns restriction ${restrict##*/}=$(cat "$restrict" 2> /dev/null || echo absent)"
