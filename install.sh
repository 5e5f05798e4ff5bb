#!/bin/sh
# Sprout node installer: curl-pipe-sh friendly, safe to run twice, downloads only from your master.
#
#   curl -fsSL http://MASTER:7000/install.sh | sudo sh -s -- --token spa_... [--role gateway] [--name NAME]
#
# Downloads the `sprout` binary from the master (checked against the SHA-256 the master publishes),
# installs nginx from the distribution when missing, creates the unprivileged user `sprout`, writes
# the agent's settings to /etc/sprout-agent.env (0600, the token stays out of argv) and a systemd
# unit, starts it, and waits until the node answers. Options (each also as an environment variable):
#   --master URL        the master (default: the one this script was fetched from)   SPROUT_MASTER
#   --master-pin PIN    pin of the master's self-signed certificate (sha256//...)      SPROUT_MASTER_PIN
#   --token TOKEN       the agent token from `sprout agents create`                    SPROUT_AGENT_TOKEN
#   --name NAME         the node's name (default: hostname)                            SPROUT_AGENT_NAME
#   --role node|gateway                                                                SPROUT_ROLE
#   --listen HOST:PORT  agent API (default 0.0.0.0:7070)                               SPROUT_AGENT_LISTEN
#   --http-listen HOST:PORT  where nginx serves (default 0.0.0.0:8080)                 SPROUT_HTTP_LISTEN
#   --public-url URL    how the master and CLIs reach the agent API                    SPROUT_AGENT_URL
#   --root DIR          install under DIR instead of / (no apt, no user, no systemd)   SPROUT_ROOT
#   --no-start          write everything, start nothing
#   --uninstall         stop and remove the service, settings and binary (data is kept)
# Also: SPROUT_BINARY (a local file to install instead of downloading) with SPROUT_SHA256.
set -eu

MASTER=${SPROUT_MASTER:-__SPROUT_MASTER__}
TOKEN=${SPROUT_AGENT_TOKEN:-}
PIN=${SPROUT_MASTER_PIN:-}
NAME=${SPROUT_AGENT_NAME:-}
ROLE=${SPROUT_ROLE:-node}
LISTEN=${SPROUT_AGENT_LISTEN:-0.0.0.0:7070}
HTTP_LISTEN=${SPROUT_HTTP_LISTEN:-0.0.0.0:8080}
PUBLIC_URL=${SPROUT_AGENT_URL:-}
ROOT=${SPROUT_ROOT:-}
START=1
UNINSTALL=0

say() { printf 'sprout-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --master) MASTER=${2:?--master needs a URL}; shift 2 ;;
    --token) TOKEN=${2:?--token needs a value}; shift 2 ;;
    --master-pin) PIN=${2:?--master-pin needs sha256//...}; shift 2 ;;
    --name) NAME=${2:?--name needs a value}; shift 2 ;;
    --role) ROLE=${2:?--role needs node or gateway}; shift 2 ;;
    --listen) LISTEN=${2:?}; shift 2 ;;
    --http-listen) HTTP_LISTEN=${2:?}; shift 2 ;;
    --public-url) PUBLIC_URL=${2:?}; shift 2 ;;
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    *) die "unknown option $1 (see the comment at the top of this script)" ;;
  esac
done
case "$ROLE" in node|gateway) ;; *) die "--role must be node or gateway" ;; esac
case "$MASTER" in __SPROUT_MASTER__) MASTER="" ;; esac

BIN_DIR=${SPROUT_BIN_DIR:-$ROOT/usr/local/bin}
DATA_DIR=${SPROUT_DATA_DIR:-$ROOT/var/lib/sprout}
ETC=$ROOT/etc
UNIT=$ETC/systemd/system/sprout-agent.service
ENV_FILE=$ETC/sprout-agent.env
systemd=1
[ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1 || systemd=0
need_root() { [ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo) to $1"; }

if [ "$UNINSTALL" -eq 1 ]; then
  need_root "uninstall"
  if [ "$systemd" -eq 1 ]; then systemctl disable --now sprout-agent >/dev/null 2>&1 || true; fi
  rm -f "$UNIT" "$ENV_FILE" "$BIN_DIR/sprout"
  [ "$systemd" -eq 1 ] && systemctl daemon-reload || true
  say "removed the sprout-agent service, its settings and the binary (data kept in $DATA_DIR)"
  exit 0
fi

if [ -z "$ROOT" ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  command -v apt-get >/dev/null 2>&1 || die "nginx is missing and this is not a Debian/Ubuntu system: install nginx, then rerun"
  need_root "install nginx"
  say "installing nginx"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  # The agent runs its own nginx; the distribution's service is not needed for Sprout.
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.sha"' EXIT
if [ -n "${SPROUT_BINARY:-}" ]; then
  cp "$SPROUT_BINARY" "$tmp"
else
  [ -n "$MASTER" ] || die "set --master URL (or SPROUT_BINARY to a local file)"
  arch=$(uname -m)
  case "$arch" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) die "no sprout binary for $arch" ;; esac
  url="$MASTER/download/sprout-linux-$arch"
  say "downloading $url"
  # A self-signed master is trusted by its key's pin only (curl refuses any other key).
  if [ -n "$PIN" ]; then set -- -k --pinnedpubkey "$PIN"; else set --; fi
  curl -fsSL "$@" "$url" -o "$tmp" || die "download failed: $url"
  curl -fsSL "$@" "$url.sha256" -o "$tmp.sha" || die "download failed: $url.sha256"
  SPROUT_SHA256=${SPROUT_SHA256:-$(cut -d' ' -f1 "$tmp.sha")}
fi
if [ -n "${SPROUT_SHA256:-}" ]; then
  echo "$SPROUT_SHA256  $tmp" | sha256sum -c - >/dev/null 2>&1 || die "checksum mismatch: the binary is not the one SPROUT_SHA256 names"
fi
mkdir -p "$BIN_DIR"
install -m 0755 "$tmp" "$BIN_DIR/sprout"
say "installed $BIN_DIR/sprout ($("$BIN_DIR/sprout" --version))"

[ -n "$TOKEN" ] || { say "no --token: installed the binary only"; exit 0; }
[ -n "$MASTER" ] || die "set --master URL"
need_root "set up the sprout-agent service"
if [ -z "$ROOT" ]; then
  id sprout >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin sprout
  install -d -m 0711 -o sprout -g sprout "$DATA_DIR"
else
  mkdir -p "$DATA_DIR"
fi
# Listening beyond loopback, the agent API serves HTTPS (self-signed; the master hands its pin out).
case "$LISTEN" in 0.0.0.0:*|:*) [ -n "$PUBLIC_URL" ] || PUBLIC_URL="https://$(hostname -I 2>/dev/null | cut -d' ' -f1):${LISTEN##*:}" ;; esac
mkdir -p "$ETC/systemd/system"
old_umask=$(umask)
umask 077
cat > "$ENV_FILE" <<ENV
SPROUT_MASTER=$MASTER
${PIN:+SPROUT_MASTER_PIN=$PIN}
SPROUT_AGENT_TOKEN=$TOKEN
SPROUT_AGENT_NAME=${NAME:-$(hostname)}
SPROUT_ROLE=$ROLE
SPROUT_AGENT_LISTEN=$LISTEN
SPROUT_HTTP_LISTEN=$HTTP_LISTEN
SPROUT_AGENT_DATA=$DATA_DIR
${PUBLIC_URL:+SPROUT_AGENT_URL=$PUBLIC_URL}
ENV
umask "$old_umask"
[ -z "$ROOT" ] && chown sprout:sprout "$ENV_FILE"
cat > "$UNIT" <<UNIT
[Unit]
Description=Sprout agent (serves sites with its own nginx)
After=network-online.target
Wants=network-online.target

[Service]
User=sprout
Group=sprout
EnvironmentFile=$ENV_FILE
ExecStart=$BIN_DIR/sprout agent
Restart=always
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
UNIT
say "wrote $ENV_FILE (0600) and $UNIT"
[ "$START" -eq 1 ] && [ "$systemd" -eq 1 ] || { say "not started (--no-start, --root or no systemd): run $BIN_DIR/sprout agent with the settings in $ENV_FILE"; exit 0; }

systemctl daemon-reload
systemctl enable --now sprout-agent >/dev/null
systemctl restart sprout-agent
port=${LISTEN##*:}
i=0
until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || curl -fsSk "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || die "the agent did not answer on port $port within 60 s: see journalctl -u sprout-agent"
  sleep 1
done
say "sprout-agent is up: ${PUBLIC_URL:-http://127.0.0.1:$port} (systemctl status sprout-agent)"
