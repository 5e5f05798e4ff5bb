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
# nginx's brotli_static module serves the .br siblings the agent makes (gzip only without it).
if [ ! -f /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libnginx-mod-http-brotli-static >/dev/null 2>&1 \
    || echo "nginx's brotli module is not packaged here: sites are served with gzip only"
fi
# nginx's geoip module and the country database: Country= rules (skipped with a warning without).
if [ ! -f /usr/share/GeoIP/GeoIP.dat ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libnginx-mod-http-geoip geoip-database >/dev/null 2>&1 \
    || echo "nginx's geoip module is not packaged here: Country= rules are skipped"
fi
# nginx's Lua module: the rules engine, so that a deploy of _redirects/_headers reloads nothing.
if [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libnginx-mod-http-lua >/dev/null 2>&1 \
    || echo "nginx's Lua module is not packaged here: sites' rules are served from nginx includes (shards)"
fi
command -v bun >/dev/null 2>&1 || $SUDO npm i -g bun >/dev/null
bun install --frozen-lockfile >/dev/null
bun run build
