#!/bin/sh
# Sprout node installer (curl-pipe-sh friendly, safe to run twice).
#
#   curl -fsSL https://your-master.example.com/install.sh | \
#     SPROUT_BINARY_URL=https://your-master.example.com/sprout SPROUT_SHA256=<sha256> \
#     SPROUT_MASTER=https://your-master.example.com SPROUT_AGENT_TOKEN=spa_... sh
#
# Installs nginx (Debian/Ubuntu package) when missing and the `sprout` binary from SPROUT_BINARY
# (a local file) or SPROUT_BINARY_URL, checked against SPROUT_SHA256 when given. It downloads
# nothing else. With SPROUT_MASTER and SPROUT_AGENT_TOKEN it also sets up `sprout agent` as a
# systemd service running as the unprivileged user `sprout` on high ports:
#   SPROUT_AGENT_LISTEN (0.0.0.0:7070)  SPROUT_HTTP_LISTEN (0.0.0.0:8080)  SPROUT_AGENT_NAME (hostname)
#   SPROUT_AGENT_URL (required: where CLIs and other nodes reach this agent, e.g. http://10.0.0.2:7070)
set -eu

BIN_DIR=${SPROUT_BIN_DIR:-/usr/local/bin}
DATA_DIR=${SPROUT_DATA_DIR:-/var/lib/sprout}
say() { printf 'sprout-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root to $1"; }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  command -v apt-get >/dev/null 2>&1 || die "nginx is missing and this is not a Debian/Ubuntu system: install nginx, then rerun"
  need_root "install nginx"
  say "installing nginx"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  # The agent runs its own nginx; the distribution's service is not needed for Sprout.
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if [ -n "${SPROUT_BINARY:-}" ]; then
  cp "$SPROUT_BINARY" "$tmp"
elif [ -n "${SPROUT_BINARY_URL:-}" ]; then
  say "downloading $SPROUT_BINARY_URL"
  curl -fsSL "$SPROUT_BINARY_URL" -o "$tmp" || die "download failed"
elif command -v sprout >/dev/null 2>&1; then
  cp "$(command -v sprout)" "$tmp"
else
  die "set SPROUT_BINARY (a file) or SPROUT_BINARY_URL to the sprout binary to install"
fi
if [ -n "${SPROUT_SHA256:-}" ]; then
  echo "$SPROUT_SHA256  $tmp" | sha256sum -c - >/dev/null 2>&1 || die "checksum mismatch: the binary is not the one SPROUT_SHA256 names"
fi
install -m 0755 "$tmp" "$BIN_DIR/sprout"
say "installed $BIN_DIR/sprout ($("$BIN_DIR/sprout" --version))"

if [ -n "${SPROUT_MASTER:-}" ] && [ -n "${SPROUT_AGENT_TOKEN:-}" ]; then
  need_root "set up the sprout-agent service"
  # 0.0.0.0 is where the agent listens; CLIs upload to the URL it advertises, which must be reachable.
  [ -n "${SPROUT_AGENT_URL:-}" ] || die "set SPROUT_AGENT_URL to the URL CLIs and other nodes reach this agent at (e.g. http://10.0.0.2:7070)"
  id sprout >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin sprout
  install -d -m 0755 -o sprout -g sprout "$DATA_DIR"
  umask 077
  cat > /etc/sprout-agent.env <<ENV
SPROUT_MASTER=$SPROUT_MASTER
SPROUT_AGENT_TOKEN=$SPROUT_AGENT_TOKEN
SPROUT_AGENT_NAME=${SPROUT_AGENT_NAME:-$(hostname)}
SPROUT_AGENT_LISTEN=${SPROUT_AGENT_LISTEN:-0.0.0.0:7070}
SPROUT_AGENT_URL=$SPROUT_AGENT_URL
SPROUT_HTTP_LISTEN=${SPROUT_HTTP_LISTEN:-0.0.0.0:8080}
SPROUT_AGENT_DATA=$DATA_DIR
ENV
  chown sprout:sprout /etc/sprout-agent.env
  cat > /etc/systemd/system/sprout-agent.service <<UNIT
[Unit]
Description=Sprout agent (serves sites with its own nginx)
After=network-online.target
Wants=network-online.target

[Service]
User=sprout
Group=sprout
EnvironmentFile=/etc/sprout-agent.env
ExecStart=$BIN_DIR/sprout agent
Restart=always
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now sprout-agent
  say "sprout-agent is running; check it with: systemctl status sprout-agent"
fi
