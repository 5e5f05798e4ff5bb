#!/usr/bin/env bash
# Installs what running Sprout from source needs on a Debian/Ubuntu machine with Node.js and npm:
# Bun (from the npm registry), nginx (Debian's package), the dependencies, then builds dist/sprout.
# Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
command -v bun >/dev/null 2>&1 || $SUDO npm i -g bun >/dev/null
bun install --frozen-lockfile >/dev/null
bun run build
