#!/bin/sh
# Sprout installer: curl-pipe-sh friendly, safe to run twice, downloads only from your master.
#
#   curl -fsSL http://MASTER:7000/install.sh | sudo sh -s -- --token spa_... [--role gateway] [--name NAME]
#   curl -fsSL http://MASTER:7000/install.sh | sudo sh -s -- --master --domain sites.example.com   # a master
#
# Downloads the `sprout` binary from the master (checked against the SHA-256 the master publishes),
# installs nginx from the distribution when missing (agents), creates the unprivileged user `sprout`,
# writes the service's settings to /etc/sprout-agent.env or /etc/sprout-master.env (0600, the token
# stays out of argv) and a systemd unit, starts it, waits until it answers, and prints the firewall
# rules the role needs. An agent runs its own copy of the binary (in its data folder, owned by
# `sprout`) so that `sprout agents upgrade` can replace it; /usr/local/bin/sprout stays root's.
# Options (each also as an environment variable):
#   --master URL        the master (default: the one this script was fetched from)   SPROUT_MASTER
#   --master            (no URL) install a master instead of an agent: same as --role master
#   --master-pin PIN    pin of the master's self-signed certificate (sha256//...)      SPROUT_MASTER_PIN
#   --token TOKEN       the agent token from `sprout agents create`                    SPROUT_AGENT_TOKEN
#   --name NAME         the node's name (default: hostname)                            SPROUT_AGENT_NAME
#   --role node|gateway|master                                                         SPROUT_ROLE
#   --listen HOST:PORT  agent API (default 0.0.0.0:7070); master API (0.0.0.0:7000)    SPROUT_LISTEN
#   --http-listen HOST:PORT  where nginx serves (default 0.0.0.0:8080)                 SPROUT_HTTP_LISTEN
#   --https-listen HOST:PORT  node or gateway: where it serves HTTPS                   SPROUT_HTTPS_LISTEN
#   --public-url URL    how the master and CLIs reach the agent API                    SPROUT_AGENT_URL
#   --domain DOMAIN     master: the platform domain (sites at <site>.DOMAIN)           SPROUT_DOMAIN
#   --admin-email EMAIL master: create this admin at first start (password in the journal, once)
#   --firewall          open the ports printed at the end (ufw, or nftables' inet filter input)
#   --root DIR          install under DIR instead of / (no apt, no user, no systemd)   SPROUT_ROOT
#   --no-start          write everything, start nothing
#   --uninstall         stop and remove the service, settings and binaries (data is kept)
# Also: SPROUT_BINARY (a local file to install instead of downloading) with SPROUT_SHA256.
set -eu

MASTER=${SPROUT_MASTER:-__SPROUT_MASTER__}
TOKEN=${SPROUT_AGENT_TOKEN:-}
PIN=${SPROUT_MASTER_PIN:-}
NAME=${SPROUT_AGENT_NAME:-}
ROLE=${SPROUT_ROLE:-node}
LISTEN=${SPROUT_LISTEN:-${SPROUT_AGENT_LISTEN:-}}
HTTP_LISTEN=${SPROUT_HTTP_LISTEN:-0.0.0.0:8080}
HTTPS_LISTEN=${SPROUT_HTTPS_LISTEN:-}
PUBLIC_URL=${SPROUT_AGENT_URL:-}
DOMAIN=${SPROUT_DOMAIN:-}
ADMIN_EMAIL=${SPROUT_ADMIN_EMAIL:-}
ROOT=${SPROUT_ROOT:-}
START=1
UNINSTALL=0
FIREWALL=0

say() { printf 'sprout-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --master)
      case "${2:-}" in
        http://*|https://*) MASTER=$2; shift 2 ;;
        *) ROLE=master; shift ;;
      esac ;;
    --token) TOKEN=${2:?--token needs a value}; shift 2 ;;
    --master-pin) PIN=${2:?--master-pin needs sha256//...}; shift 2 ;;
    --name) NAME=${2:?--name needs a value}; shift 2 ;;
    --role) ROLE=${2:?--role needs node or gateway}; shift 2 ;;
    --listen) LISTEN=${2:?}; shift 2 ;;
    --http-listen) HTTP_LISTEN=${2:?}; shift 2 ;;
    --https-listen) HTTPS_LISTEN=${2:?}; shift 2 ;;
    --domain) DOMAIN=${2:?--domain needs a domain}; shift 2 ;;
    --admin-email) ADMIN_EMAIL=${2:?--admin-email needs an address}; shift 2 ;;
    --firewall) FIREWALL=1; shift ;;
    --public-url) PUBLIC_URL=${2:?}; shift 2 ;;
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    *) die "unknown option $1 (see the comment at the top of this script)" ;;
  esac
done
case "$ROLE" in node|gateway|master) ;; *) die "--role must be node, gateway or master" ;; esac
case "$MASTER" in __SPROUT_MASTER__) MASTER="" ;; esac
if [ "$ROLE" = master ]; then SERVICE=sprout-master; LISTEN=${LISTEN:-0.0.0.0:7000}; else SERVICE=sprout-agent; LISTEN=${LISTEN:-0.0.0.0:7070}; fi

BIN_DIR=${SPROUT_BIN_DIR:-$ROOT/usr/local/bin}
DATA_DIR=${SPROUT_DATA_DIR:-$ROOT/var/lib/sprout}
ETC=$ROOT/etc
UNIT=$ETC/systemd/system/$SERVICE.service
ENV_FILE=$ETC/$SERVICE.env
# An agent's own copy of the binary, which it may replace when the master rolls out an upgrade.
AGENT_BIN=$DATA_DIR/bin/sprout
systemd=1
[ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1 || systemd=0
need_root() { [ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo) to $1"; }

if [ "$UNINSTALL" -eq 1 ]; then
  need_root "uninstall"
  if [ "$systemd" -eq 1 ]; then systemctl disable --now "$SERVICE" >/dev/null 2>&1 || true; fi
  rm -f "$UNIT" "$ENV_FILE" "$BIN_DIR/sprout"
  [ "$ROLE" = master ] || rm -f "$AGENT_BIN" "$AGENT_BIN.previous"
  [ "$systemd" -eq 1 ] && systemctl daemon-reload || true
  say "removed the $SERVICE service, its settings and the binary (data kept in $DATA_DIR)"
  exit 0
fi

# firewall prints the rules that open only what this role serves, and applies them with --firewall.
# Each argument is PORT:who-needs-it.
firewall() {
  ports=""
  say "firewall: this $ROLE needs these TCP ports open, and no others:"
  for p in "$@"; do
    port=${p%%:*}
    ports="${ports:+$ports, }$port"
    say "  $port  ${p#*:}"
  done
  say "  with ufw:"
  for p in "$@"; do say "    ufw allow ${p%%:*}/tcp comment 'sprout ${ROLE}: ${p#*:}'"; done
  say "  with nftables:"
  say "    nft add rule inet filter input tcp dport { $ports } accept"
  [ "$FIREWALL" -eq 1 ] || return 0
  if [ -n "$ROOT" ]; then say "  --firewall: not applied under --root"; return 0; fi
  if command -v ufw >/dev/null 2>&1; then
    for p in "$@"; do ufw allow "${p%%:*}/tcp" comment "sprout ${ROLE}: ${p#*:}" >/dev/null; done
    say "  applied with ufw"
  elif command -v nft >/dev/null 2>&1 && nft list chain inet filter input >/dev/null 2>&1; then
    nft add rule inet filter input tcp dport "{ $ports }" accept
    say "  applied to nftables' inet filter input chain (make it permanent in /etc/nftables.conf)"
  else
    die "--firewall: neither ufw nor an nftables 'inet filter input' chain here: open the ports above in your firewall"
  fi
}
rules() {
  api=${LISTEN##*:}
  case "$ROLE" in
    master) firewall "$api:API and admin UI (agents, gateways, CLIs, admins' browsers)" ;;
    node) if [ -n "$HTTPS_LISTEN" ]; then firewall "$api:agent API (the master, CLIs uploading, peer nodes)" "${HTTP_LISTEN##*:}:sites (gateways; visitors when there is no gateway)" "${HTTPS_LISTEN##*:}:HTTPS (visitors)"; else firewall "$api:agent API (the master, CLIs uploading, peer nodes)" "${HTTP_LISTEN##*:}:sites (gateways; visitors when there is no gateway)"; fi ;;
    gateway) if [ -n "$HTTPS_LISTEN" ]; then firewall "${HTTP_LISTEN##*:}:HTTP (visitors)" "${HTTPS_LISTEN##*:}:HTTPS (visitors)" "$api:liveness (the master)"; else firewall "${HTTP_LISTEN##*:}:HTTP (visitors)" "$api:liveness (the master)"; fi ;;
  esac
}

if [ "$ROLE" != master ] && [ -z "$ROOT" ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  command -v apt-get >/dev/null 2>&1 || die "nginx is missing and this is not a Debian/Ubuntu system: install nginx, then rerun"
  need_root "install nginx"
  say "installing nginx"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  # Serves the .br siblings the agent makes; older distributions lack the package (gzip only then).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnginx-mod-http-brotli-static >/dev/null 2>&1 \
    || say "nginx's brotli module is not packaged here: sites are served with gzip only"
  # Visitors' countries for Country= rules (nginx's geoip module and the country database).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnginx-mod-http-geoip geoip-database >/dev/null 2>&1 \
    || say "nginx's geoip module is not packaged here: Country= rules are skipped"
  # The rules engine: sites' _redirects and _headers read at request time, no reload per deploy.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnginx-mod-http-lua >/dev/null 2>&1 \
    || say "nginx's Lua module is not packaged here: sites' rules are served from nginx includes (shards)"
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
  # On a slow link the master's server may cut the transfer (it ends a response that outlasts a few
  # of its idle timeouts): curl asks again for the rest (-C -), for as long as tries are cut short.
  tries=0
  while :; do
    rc=0
    curl -fsSL "$@" -C - "$url" -o "$tmp" || rc=$?
    [ "$rc" -eq 0 ] && break
    case "$rc" in 18|28|52|55|56) ;; *) die "download failed: $url (curl exit $rc)" ;; esac
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || die "download failed: $url (cut short $tries times)"
    say "download cut short; resuming where it stopped"
  done
  curl -fsSL "$@" "$url.sha256" -o "$tmp.sha" || die "download failed: $url.sha256"
  SPROUT_SHA256=${SPROUT_SHA256:-$(cut -d' ' -f1 "$tmp.sha")}
fi
if [ -n "${SPROUT_SHA256:-}" ]; then
  echo "$SPROUT_SHA256  $tmp" | sha256sum -c - >/dev/null 2>&1 || die "checksum mismatch: the binary is not the one SPROUT_SHA256 names"
fi
mkdir -p "$BIN_DIR"
install -m 0755 "$tmp" "$BIN_DIR/sprout"
say "installed $BIN_DIR/sprout ($("$BIN_DIR/sprout" --version))"

[ "$ROLE" = master ] || [ -n "$TOKEN" ] || { say "no --token: installed the binary only"; exit 0; }
[ "$ROLE" = master ] || [ -n "$MASTER" ] || die "set --master URL"
need_root "set up the $SERVICE service"
if [ -z "$ROOT" ]; then
  id sprout >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin sprout
  install -d -m 0711 -o sprout -g sprout "$DATA_DIR"
else
  mkdir -p "$DATA_DIR"
fi
# Listening beyond loopback, the agent API serves HTTPS (self-signed; the master hands its pin out).
case "$LISTEN" in 0.0.0.0:*|:*) [ -n "$PUBLIC_URL" ] || PUBLIC_URL="https://$(hostname -I 2>/dev/null | cut -d' ' -f1):${LISTEN##*:}" ;; esac
mkdir -p "$ETC/systemd/system"

if [ "$ROLE" = master ]; then
  [ -n "$DOMAIN" ] || { DOMAIN=localhost; say "warning: no --domain: sites will be served at <site>.localhost only"; }
  if [ -z "$ROOT" ]; then install -d -m 0700 -o sprout -g sprout "$DATA_DIR/master" "$DATA_DIR/backups"; else mkdir -p "$DATA_DIR/master" "$DATA_DIR/backups"; fi
  old_umask=$(umask)
  umask 077
  cat > "$ENV_FILE" <<ENV
SPROUT_LISTEN=$LISTEN
SPROUT_DATA=$DATA_DIR/master
SPROUT_DOMAIN=$DOMAIN
SPROUT_BACKUP_DIR=$DATA_DIR/backups
${ADMIN_EMAIL:+SPROUT_ADMIN_EMAIL=$ADMIN_EMAIL}
ENV
  umask "$old_umask"
  [ -z "$ROOT" ] && chown sprout:sprout "$ENV_FILE"
  cat > "$UNIT" <<UNIT
[Unit]
Description=Sprout master (control plane: API, admin UI, database)
After=network-online.target
Wants=network-online.target

[Service]
User=sprout
Group=sprout
EnvironmentFile=$ENV_FILE
ExecStart=$BIN_DIR/sprout master
Restart=always
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
UNIT
  say "wrote $ENV_FILE (0600) and $UNIT"
  rules
  [ "$START" -eq 1 ] && [ "$systemd" -eq 1 ] || { say "not started (--no-start, --root or no systemd): run $BIN_DIR/sprout master with the settings in $ENV_FILE"; exit 0; }
  systemctl daemon-reload
  systemctl enable --now sprout-master >/dev/null
  # A reinstall is an upgrade: the new binary runs from here on (the database is backed up before migrating).
  systemctl restart sprout-master
  port=${LISTEN##*:}
  i=0
  # Beyond loopback the master serves HTTPS (self-signed: its pin is checked by agents, not here).
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || curl -fsSk "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 60 ] || die "the master did not answer on port $port within 60 s: see journalctl -u sprout-master"
    sleep 1
  done
  say "sprout-master is up on port $port. Next: sprout login --master http://THIS-HOST:$port"
  [ -z "$ADMIN_EMAIL" ] || say "the admin's first password is in the journal, once: journalctl -u sprout-master | grep -A1 'Admin account'"
  say "then upgrade the agents to this version: sprout agents upgrade"
  exit 0
fi

# The agent runs its own copy, which a rolling upgrade may replace (its folder is the service user's).
if [ -z "$ROOT" ]; then
  install -d -m 0755 -o sprout -g sprout "$DATA_DIR/bin"
  install -m 0755 -o sprout -g sprout "$BIN_DIR/sprout" "$AGENT_BIN"
else
  mkdir -p "$DATA_DIR/bin"
  install -m 0755 "$BIN_DIR/sprout" "$AGENT_BIN"
fi
case "$LISTEN" in 0.0.0.0:*|:*) [ -n "$PUBLIC_URL" ] || PUBLIC_URL="http://$(hostname -I 2>/dev/null | cut -d' ' -f1):${LISTEN##*:}" ;; esac
old_umask=$(umask)
umask 077
cat > "$ENV_FILE" <<ENV
SPROUT_MASTER=$MASTER
${PIN:+SPROUT_MASTER_PIN=$PIN}
SPROUT_AGENT_TOKEN=$TOKEN
SPROUT_AGENT_NAME=${NAME:-$(hostname)}
SPROUT_AGENT_ROLE=$ROLE
SPROUT_AGENT_LISTEN=$LISTEN
SPROUT_HTTP_LISTEN=$HTTP_LISTEN
SPROUT_AGENT_DATA=$DATA_DIR
${PUBLIC_URL:+SPROUT_AGENT_URL=$PUBLIC_URL}
${HTTPS_LISTEN:+SPROUT_HTTPS_LISTEN=$HTTPS_LISTEN}
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
ExecStart=$AGENT_BIN agent
# Gateways serve on 80/443 without root.
AmbientCapabilities=CAP_NET_BIND_SERVICE
Restart=always
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
UNIT
say "wrote $ENV_FILE (0600) and $UNIT"
rules
[ "$START" -eq 1 ] && [ "$systemd" -eq 1 ] || { say "not started (--no-start, --root or no systemd): run $AGENT_BIN agent with the settings in $ENV_FILE"; exit 0; }

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
