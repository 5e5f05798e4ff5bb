import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ACCESS_LOG_FORMAT } from "../traffic";
import { gzipTypes, nginxTypes } from "./mime";
import { globalHeaderMaps } from "./rules/header-sets";
import { valueEncodingMaps } from "./rules/value-encoding";
import { hopSocket, httpsInclude } from "./https";

/** NginxLayout names the files of the agent's own nginx, all under <data>/nginx so it runs unprivileged. */
export interface NginxLayout {
  prefix: string;
  conf: string;
  sitesDir: string;
  pid: string;
  /** socket: the unix socket it listens on: a shard's (see shards.ts), the main nginx's for its HTTPS servers (https.ts). */
  socket?: string;
}

export function nginxLayout(dataDir: string): NginxLayout {
  const l = layoutAt(join(dataDir, "nginx"));
  return { ...l, socket: hopSocket(l) };
}

/**
 * shardLayout names the files of shard `n`, one of the small nginx instances that serve the sites
 * with rules of their own (see shards.ts): `<data>/nginx/shards/<n>/`, its socket `shard-<n>.sock` in socketDir.
 */
export function shardLayout(dataDir: string, n: number): NginxLayout & { socket: string } {
  const l = layoutAt(join(dataDir, "nginx", "shards", String(n)));
  return { ...l, socket: join(socketDir(dataDir), `shard-${n}.sock`) };
}

/**
 * socketDir holds nginx's unix sockets (the main nginx's hop.sock, the shards'). nginx makes them
 * 0666, and what arrives on them is trusted (the visitor's address), so the folder is what keeps
 * them to nginx: 0710, its group nginx's workers' (secureLayout), closed to other local users.
 */
export function socketDir(dataDir: string): string {
  return join(dataDir, "nginx", "sock");
}

function layoutAt(prefix: string): NginxLayout {
  return { prefix, conf: join(prefix, "nginx.conf"), sitesDir: join(prefix, "sites"), pid: join(prefix, "nginx.pid") };
}

const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * defaultResolver is the first nameserver of /etc/resolv.conf, in nginx's notation (an IPv6 address
 * in brackets), for proxy rules' host names; 127.0.0.1 when the file names none.
 */
/**
 * hashBucketSize is the smallest bucket size (128, 256 or 512) of nginx's hashes of exact names
 * (`server_name`, `map`) that holds a name of `longest` characters: one element (a pointer, its
 * length and the name, aligned to 8) and the end-of-bucket pointer. A longer name than the bucket
 * holds fails the whole configuration ("could not build map_hash"): at 128, one custom domain of
 * 111 characters stopped every later change of a gateway's routes; nginx's default (the CPU's
 * cache line, 64) failed at 47. DNS names go up to 253: 512.
 */
export function hashBucketSize(longest: number): number {
  const need = Math.ceil((8 + 2 + longest) / 8) * 8 + 8;
  return need <= 128 ? 128 : need <= 256 ? 256 : 512;
}

/** NAME_BUCKET holds any DNS name (253 characters): the nodes' hashes, which name custom domains in HTTPS servers. */
export const NAME_BUCKET = hashBucketSize(253);

export function defaultResolver(): string {
  let text = "";
  try {
    text = readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    /* no resolv.conf: the fallback below */
  }
  const ns = /^\s*nameserver\s+(\S+)/m.exec(text)?.[1]?.replace(/%.*$/, "");
  if (!ns || !/^[0-9A-Fa-f.:]+$/.test(ns)) return "127.0.0.1";
  return ns.includes(":") ? `[${ns}]` : ns;
}

const esc = (s: string) => s.replace(/[.]/g, "\\.");

/** UNSAFE_TARGET (PCRE, inside an nginx string): see $sprout_unsafe below. */
const UNSAFE_TARGET = "^(?:[^?]*/)?\\.\\.?(?:[/?]|$)|^[^?]*(?:%2[eEfF]|%5[cC]|\\x5c)|^/[/\\x5c]|[\\x00-\\x1f\\x7f]";

/** ASSET_EXTENSIONS name files a page loads as assets: under SPA they still answer 404 when missing. */
export const ASSET_EXTENSIONS = ["js", "mjs", "cjs", "css", "map", "json", "wasm", "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "ogg", "txt", "xml", "pdf", "zip"];

/**
 * siteLocations is the body every site's server gets. An existing file is served straight away (no
 * try_files: an extra stat on every request costs ~10% of throughput); only a path without extension
 * or final "/" (a page's clean URL) first looks for its .html, and a miss falls back to clean URLs
 * (`/about` -> about.html; `/about/` -> a 301 to `/about`, as Netlify answers), then
 * (SPA sites) to index.html unless the path names an asset, then to the site's root 404.html with
 * status 404. `/docs` -> `/docs/` and `docs/index.html` come from nginx's own static and index
 * modules; a folder without index.html (nginx's 403) is a miss like any other. `cacheControl` is
 * the variable holding Cache-Control, sent on every answer (404s included) as Netlify does.
 */
export function siteLocations(o: { cacheControl?: string; spa?: boolean | "lua"; guard?: boolean; prelude?: string } = {}): string {
  // nginx applies an error page only while the request has not had one yet, unless the location
  // that met the first error allows recursion: so `location /` allows it (its 404 goes to the
  // clean-URL fallback, whose 404 may still get 404.html) and the fallback does not (a site without
  // 404.html ends in nginx's plain 404 instead of looping). `prelude` runs first in each location
  // (a rules site's header sets follow the resource there).
  const pre = o.prelude ? `\n      ${o.prelude}` : "";
  const guard = o.guard ? `
      # After a rule's rewrite: never a "." or ".." segment (defence in depth; targets are checked).
      if ($uri ~ "(?:^|/)\\.\\.?(?:/|$)") { return 400; }` : "";
  // With the Lua rules engine one server serves every site: its SPA fallback asks the site's rules.
  const spa = o.spa
    ? `
    location @spa {${pre}
      if ($uri ~* "\\.(${ASSET_EXTENSIONS.join("|")})$") { return 404; }${o.spa === "lua" ? `
      # Also sets $sprout_hs to the root's _headers: index.html is what goes out (its Basic-Auth).
      set_by_lua_block $sprout_spa { return sprout.spa() }
      if ($sprout_spa = "") { return 404; }` : ""}
      # The header set after the rewrite (index.html's), then \`break\` (a \`rewrite ... break\` would skip it).
      rewrite ^ /index.html;${pre}
      break;
    }`
    : "";
  return `
    add_header Cache-Control ${o.cacheControl ?? "$sprout_cache_control"} always;
    location / {${pre}${guard}
      log_not_found off;
      recursive_error_pages on;
      error_page 403 404 = @clean_url;
      # A page's address without extension or final "/" (/blog): its .html comes before a folder of
      # that name, which nginx would send to /blog/ (and /blog/ back to /blog: a loop). Static
      # exports put blog.html beside blog/first.html (Next.js, SvelteKit, Astro's "file" format).
      location ~ "/[^/.]+$" {${pre.replace(/\n/g, "\n  ")}${guard.replace(/\n/g, "\n  ")}
        if (-f $request_filename.html) { rewrite ^ $uri.html last; }
      }
    }
    location @clean_url {${pre}
      if (-f $document_root$sprout_slash_html) { rewrite ^(.+?)/+$ $1 permanent; }
      try_files $uri.html ${o.spa ? "@spa" : "=404"};
    }${spa}
    error_page 404 /404.html;`;
}

/**
 * JIT_MAX_RULES_SITES: a shard with more sites with rules of its own than this does not JIT-compile
 * its regexes (JIT costs about 1 MB per such site per nginx process).
 */
export const JIT_MAX_RULES_SITES = 25;

/** MAP_KEYWORDS are words a map reads as its own parameters: a site so named is escaped with "\\". */
const MAP_KEYWORDS = new Set(["default", "include", "hostnames", "volatile"]);

/** SHARD_UPSTREAM names the upstream of shard `n` in nginx.conf. */
export const shardUpstream = (n: number) => `sprout_shard_${n}`;

interface ConfOptions {
  dataDir: string;
  /** lua: the Lua rules engine (lua/sprout.lua in `dir`, loaded with `modules`), or null for per-site includes. */
  lua?: { dir: string; modules: string[] } | null;
  domain: string;
  workerUser: string | null;
  resolver?: string;
  pcreJit?: boolean;
  brotliModule?: string | null;
  /** geoip: nginx's geoip module and the country database, for `Country=` rules (shards only). */
  geoip?: { module: string; db: string } | null;
  /** trustedProxies: addresses whose X-Forwarded-For names the visitor (gateways, load balancers). */
  trustedProxies?: string[];
}

/**
 * renderNginxConf renders <data>/nginx/nginx.conf, the node's main nginx, the one visitors reach.
 * Sites are served by two wildcard servers whose root comes from the Host header, so creating a
 * site or deploying one needs no reload; a default_server answers unknown hosts with 404 without
 * touching any site. A site with rules of its own (`_redirects`, `_headers`, netlify.toml, SPA) has
 * an include of its own: in `sites/` here for the first ones (shard 0), else in a shard nginx, to
 * which every request for the site is handed over whole (`shards` maps those sites to their shard;
 * see shards.ts). So this file changes only when a site enters or leaves a shard, and holds nothing
 * per such site but that one map line.
 */
export function renderNginxConf(o: ConfOptions & { listen: string; shards?: Map<string, number> }): string {
  const l = nginxLayout(o.dataDir);
  const sites = join(o.dataDir, "sites");
  const hop = `unix:${hopSocket(l)}`;
  const inUse = [...new Set(o.shards?.values() ?? [])].sort((a, b) => a - b);
  const upstreams = inUse.map((n) => `  upstream ${shardUpstream(n)} {
    server unix:${shardLayout(o.dataDir, n).socket};
    keepalive 16;
    keepalive_requests 100000;
  }`).join("\n");
  const routes = [...(o.shards ?? new Map())].sort(([a], [b]) => (a < b ? -1 : 1)).map(([site, n]) => `    ${MAP_KEYWORDS.has(site) ? "\\" : ""}${site} ${shardUpstream(n)};`).join("\n");
  // The shard hand-over, in both wildcard servers: in the server's own rewrite phase, before any
  // location, so a shard's site never meets the plain-site locations below.
  const handOver = `
    if ($sprout_shard) { return 418; }
    error_page 418 = @sprout_shard;
    location @sprout_shard {
      proxy_pass http://$sprout_shard;
      proxy_set_header Host $host;
      proxy_set_header Connection "";
      # The visitor's address, for the shard's logs and X-Forwarded-For (realip trusts only this socket).
      proxy_set_header X-Sprout-Client $remote_addr;
      # Longer than the shard's own proxy rules may take.
      proxy_read_timeout 75s;
      proxy_max_temp_file_size 0;
      # The shard compressed what it should.
      gzip off;
    }`;
  return `${head(o, l, "auto", o.geoip?.module)}
http {
  # Traffic per site: one short line per request, buffered; the agent counts and rotates it.
  log_format sprout_stats ${ACCESS_LOG_FORMAT};
  access_log ${join(l.prefix, "access.log")} sprout_stats buffer=64k flush=5s;
${httpBase(o, l)}
  # The visitor is the last address in X-Forwarded-For that is not one of these: this nginx's own
  # HTTPS servers (over the unix socket, https.ts), and gateways and load balancers in front
  # (--trusted-proxies). Anyone else's X-Forwarded-For is ignored.
  set_real_ip_from unix:;
${(o.trustedProxies ?? []).map((c) => `  set_real_ip_from ${c};\n`).join("")}  real_ip_header X-Forwarded-For;
  real_ip_recursive on;
${rulesMachinery(o)}
${o.lua ? luaServers(o, sites, hop) : `
  # Sites with rules of their own in a shard, and that shard (see shards.ts).
  map $site $sprout_shard {
    default "";
${routes}
  }
${upstreams}

  # Each server that serves sites listens on the HTTP listener and on the socket of the HTTPS servers.
  server {
    listen ${o.listen} default_server;
    listen ${hop} default_server;
    server_name _;
    return 404;
  }
  # Server names are found by exact name (a hash), then by regex in the order written. A site's
  # production host never holds "--" (site names cannot), so it matches this first regex whatever the
  # number of sites; the first sites with rules (shard 0, see shards.ts) have servers of their own in
  # the include below: their production host by exact name, their previews by a regex.
  server {
    listen ${o.listen};
    listen ${hop};
    server_name ~^(?<site>[a-z0-9]+(?:-[a-z0-9]+)*)\\.${esc(o.domain)}$;
    root ${sites}/$site/current;${handOver}
${siteLocations()}
  }

  include ${l.sitesDir}/*.conf;

  server {
    listen ${o.listen};
    listen ${hop};
    server_name ~^(?<dep>[a-z0-9]+)--(?<site>[a-z0-9-]+)\\.${esc(o.domain)}$;
    root ${sites}/$site/deploys/$dep;${handOver}
${siteLocations()}
  }`}

  ${httpsInclude(l)}
}
`;
}

/** REDIRECT_STATUSES and BODY_STATUSES: what a `_redirects` rule may answer (redirects.ts STATUSES). */
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const BODY_STATUSES = [401, 403, 404, 410, 451];

/**
 * luaServers: with the Lua rules engine, every site, with rules or without, is served by the same
 * two wildcard servers; lua/sprout.lua reads a site's rules at request time from the data the agent
 * wrote for its deployment (rules/rules-data.ts). The directives are compile.ts's, for every site at
 * once: the engine answers the same $sprout_rv ("<status>|<target>") and $sprout_hs (header set)
 * that a site's own maps would, and the shared machinery above takes them from there.
 */
function luaServers(o: ConfOptions & { listen: string }, sites: string, hop: string): string {
  // $sprout_rules_file and $sprout_root are set by the engine once per request: the deployment's
  // rules file, and the production host's tree (the deployment \`current\` named when the request
  // came, so its files and its rules are one deployment's). Declared by assigning them to
  // themselves: an internal redirect, which runs these lines again, keeps what they hold.
  // sprout.request() sets $sprout_hs (the _headers of the resource the answer will come from) and
  // $sprout_rv, and answers the rule's status alone ($sprout_lst, "" for none): a request no rule
  // matches (most of them) stops at \`break\`, before the directives of rules, which read the maps
  // on $sprout_rv above only when a rule matched. No location calls the engine again but the SPA
  // fallback (it serves /index.html, the root's resource): each Lua call costs about 5% of a small
  // file's requests/s.
  const machinery = (guard: string) => `
    uninitialized_variable_warn off;
    set $sprout_rules_file $sprout_rules_file;
    set_by_lua_block $sprout_lst { return sprout.request() }${guard}
    if ($sprout_lst = "") { break; }
    # A deployment whose rules cannot be read is never served without them.
    if ($sprout_lst = fail) { return 503; }
    if ($sprout_unsafe) { return 400; }
    if ($sprout_args_from_rule) { set $args $sprout_qs; }
${REDIRECT_STATUSES.map((s) => `    if ($sprout_lst = ${s}) { return ${s} $sprout_to; }`).join("\n")}
    if ($sprout_lst = 200) { rewrite ^ $sprout_path last; }
${BODY_STATUSES.map((s) => `    if ($sprout_lst = ${s}) { rewrite ^ /__sprout_status_${s}? last; }`).join("\n")}
    if ($sprout_lst = proxy) { return 599; }
${BODY_STATUSES.map((s) => `    location = /__sprout_status_${s} { internal; error_page ${s} @sprout_status_body_${s}; return ${s}; }
    location @sprout_status_body_${s} { if ($sprout_path = "") { return ${s}; } rewrite ^ $sprout_path break; try_files $uri $uri.html $uri/index.html /404.html =${s}; }`).join("\n")}
    error_page 599 = @sprout_proxy;
    location @sprout_proxy {
      proxy_pass $sprout_to;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header Connection "";
      set_by_lua_block $sprout_proxy_auth { return sprout.proxy_authorization() }
      proxy_set_header Authorization $sprout_proxy_auth;
    }
    auth_basic $sprout_realm;
    auth_basic_user_file $sprout_htpasswd;
    header_filter_by_lua_block { sprout.send_headers() }
${siteLocations({ cacheControl: "$sprout_hcc", guard: true, spa: "lua" })}`;
  return `
  lua_package_path "${o.lua!.dir}/?.lua;;";
  # Compiled regexes of the rules a worker served lately (no JIT; about 5 KB each at most: bounded).
  lua_regex_cache_max_entries 16384;

  init_by_lua_block { sprout = require("sprout"); sprout.init("${sites}", [[${RESOURCE_ROOT}]], [[${RESOURCE_OF}]]) }

  server {
    listen ${o.listen} default_server;
    listen ${hop} default_server;
    server_name _;
    return 404;
  }
  server {
    listen ${o.listen};
    listen ${hop};
    server_name ~^(?<site>[a-z0-9]+(?:-[a-z0-9]+)*)\\.${esc(o.domain)}$;
    set $dep "";
    set $sprout_root $sprout_root;
    root ${sites}/$site/$sprout_root;${machinery(`
    # Never the site's own folder (its compiled rules are there).
    if ($sprout_root !~ "^(?:current|deploys/[a-z0-9]+)$") { return 503; }`)}
  }
  server {
    listen ${o.listen};
    listen ${hop};
    server_name ~^(?<dep>[a-z0-9]+)--(?<site>[a-z0-9-]+)\\.${esc(o.domain)}$;
    root ${sites}/$site/deploys/$dep;${machinery("")}
  }`;
}

/**
 * renderShardConf renders a shard's nginx.conf (shards 1 and up): one worker, listening only on its socket, with the
 * sites of the shard's own includes (site-include.ts) and the machinery their rules share. Without
 * regex JIT: it would run a rules site's regexes faster, but costs about 1 MB per such site per
 * nginx process; a rules site is served alike on a node with one of them and one with thousands.
 */
export function renderShardConf(o: ConfOptions & { shard: number }): string {
  const l = shardLayout(o.dataDir, o.shard);
  const sites = join(o.dataDir, "sites");
  return `${head({ ...o, pcreJit: false }, l, "1", o.geoip?.module)}
http {
  # The main nginx logs every request, these included.
  access_log off;
${httpBase(o, l)}
  # The visitor's address comes from the main nginx, the only client of this socket.
  set_real_ip_from unix:;
  real_ip_header X-Sprout-Client;
${rulesMachinery({ ...o, lua: null })}

  server {
    listen unix:${l.socket} default_server;
    server_name _;
    return 404;
  }
  include ${l.sitesDir}/*.conf;
  # A routed site's hosts its include does not name (a production or preview without rules of its
  # own while another deployment has some) are served as plain sites are, after the includes.
  server {
    listen unix:${l.socket};
    server_name ~^(?<site>[a-z0-9]+(?:-[a-z0-9]+)*)\\.${esc(o.domain)}$;
    root ${sites}/$site/current;
${siteLocations()}
  }
  server {
    listen unix:${l.socket};
    server_name ~^(?<dep>[a-z0-9]+)--(?<site>[a-z0-9-]+)\\.${esc(o.domain)}$;
    root ${sites}/$site/deploys/$dep;
${siteLocations()}
  }
}
`;
}

/** head is the part of a config before `http`: modules, user, workers, pid, error log. */
function head(o: ConfOptions, l: NginxLayout, workers: string, geoipModule?: string): string {
  const user = o.workerUser
    ? `# Workers run unprivileged: they can traverse the data folder and read served trees and the
# htpasswd files, nothing else (state, blobs, uploads and rules sources are the agent's alone).
user ${o.workerUser};`
    : "# nginx runs as the agent's own user (it was not started as root, so it cannot switch users).";
  // ngx_brotli's static module (Debian: libnginx-mod-http-brotli-static) serves the `.br` siblings
  // made at deploy time; without it, gzip only.
  const brotli = o.brotliModule ? `# Serves the .br siblings made at deploy time to clients that accept br.\nload_module ${o.brotliModule};\n` : "";
  const geoip = geoipModule ? `load_module ${geoipModule};\n` : "";
  const lua = o.lua ? `# The rules engine (lua/sprout.lua): sites' _redirects and _headers, read at request time.\n${o.lua.modules.map((m) => `load_module ${m};\n`).join("")}` : "";
  return `# Generated by sprout agent; edits are overwritten.
${brotli}${geoip}${lua}${user}
worker_processes ${workers};
# JIT-compiled regexes run faster, but each site with rules costs about 1 MB more per process:
# on in the main nginx (at most --sites-per-shard sites with rules), off in the shards.
pcre_jit ${o.pcreJit === false ? "off" : "on"};
pid ${l.pid};
error_log ${join(l.prefix, "error.log")} warn;
events { worker_connections 4096; }`;
}

/** httpBase is what every site's serving needs, in the main nginx and in the shards alike. */
function httpBase(o: ConfOptions, l: NginxLayout): string {
  return `  client_body_temp_path ${join(l.prefix, "tmp/body")};
  proxy_temp_path ${join(l.prefix, "tmp/proxy")};
  fastcgi_temp_path ${join(l.prefix, "tmp/fastcgi")};
  uwsgi_temp_path ${join(l.prefix, "tmp/uwsgi")};
  scgi_temp_path ${join(l.prefix, "tmp/scgi")};
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  server_tokens off;
  # Thousands of sites with rules: their exact host names and variables fit these tables, and any
  # custom domain (up to 253 characters: HTTPS servers and their map name them) fits a bucket.
  server_names_hash_max_size 131072;
  server_names_hash_bucket_size ${NAME_BUCKET};
  map_hash_bucket_size ${NAME_BUCKET};
  variables_hash_max_size 65536;
  variables_hash_bucket_size 128;
  # A swap of \`current\` must be seen by the next request: no cached file descriptors or lookups.
  open_file_cache off;
  # Behind a gateway, relative redirects keep the visitor's host and scheme.
  absolute_redirect off;
  etag on;
  gzip on;
  gzip_static on;
  gzip_vary on;
  gzip_min_length 256;
  gzip_types ${gzipTypes().filter((t) => t !== "text/html").join(" ")};${o.brotliModule ? "\n  brotli_static on;" : ""}
  # Every answer must be revalidated, as on Netlify, so a deploy shows at once and no browser keeps a
  # stale un-hashed asset; a proxied answer keeps the Cache-Control its upstream sent.
  map $upstream_http_cache_control $sprout_cache_control {
    "" "public, max-age=0, must-revalidate";
    default "";
  }
  # \`/about/\` of a site with about.html (and no about/index.html): the file a 301 to \`/about\` is for.
  map $uri $sprout_slash_html {
    volatile;
    "~^(?<sprout_s>/.+?)/+$" $sprout_s.html;
    default "";
  }
  # An upstream's answer never steers nginx: X-Accel-Redirect from a proxy rule's target would be an
  # internal redirect to any path.
  proxy_ignore_headers X-Accel-Redirect X-Accel-Expires X-Accel-Limit-Rate X-Accel-Buffering X-Accel-Charset;
  proxy_http_version 1.1;
  ${nginxTypes()}`;
}

/**
 * The resource a URI is served from ($sprout_resource, and the rules engine's own for a rule's
 * target): "/" for the root's index, else the path without a final "/index", ".html", ".gz"/".br"
 * or "/" (the capture sprout_r).
 */
const RESOURCE_ROOT = "^/index(?:\\.html?)?(?:\\.(?:gz|br))?$";
const RESOURCE_OF = "^(?<sprout_r>/[\\s\\S]*?)(?:/index)?(?:\\.html?)?(?:\\.(?:gz|br))?/*$";

/** rulesMachinery is what the rules sites' servers share (see rules/compile.ts). */
function rulesMachinery(o: ConfOptions): string {
  return `${o.geoip ? `
  # The visitor's country, for Country= rules ($geoip_country_code).
  geoip_country ${o.geoip.db};` : ""}
  # The resource a request is served from, for access control and _headers: without a trailing "/",
  # ".gz"/".br", ".html" or a final "/index", so /secret, /secret.html, /secret.html.gz and a rewrite
  # to /secret.html are one resource. Volatile: a rewrite or fallback changes it mid-request.
  # (Never empty: nginx tries no regex of a map on an empty value.)
  map $uri $sprout_resource {
    volatile;
    "~${RESOURCE_ROOT}" "/";
    "~${RESOURCE_OF}" $sprout_r;
  }
  # The visitor's language for \`Language=\` rules: the nf_lang cookie if it names one (as on Netlify),
  # else the first tag of Accept-Language. Both regexes read a bounded start of the header.
  map $http_accept_language $sprout_accept_lang {
    "~^\\s*(?<sprout_al>[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})?)" $sprout_al;
    default "";
  }
  map $cookie_nf_lang $sprout_lang {
    "~^(?<sprout_cl>[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})?)$" $sprout_cl;
    default $sprout_accept_lang;
  }

  # Proxy rules (\`/api/* https://api.example.com/:splat 200\`): nginx fetches the other site itself.
  # Targets are checked when a deploy is parsed (no localhost or private addresses unless the agent
  # runs with --allow-private-proxy); a public name that resolves to a private address is not.
  resolver ${o.resolver ?? defaultResolver()} valid=60s ipv6=off;
  resolver_timeout 5s;
  proxy_connect_timeout 5s;
  proxy_send_timeout 30s;
  proxy_read_timeout 30s;
  proxy_redirect off;
  proxy_ssl_server_name on;${existsSync(CA_BUNDLE) ? `
  proxy_ssl_verify on;
  proxy_ssl_verify_depth 4;
  proxy_ssl_trusted_certificate ${CA_BUNDLE};` : ""}
  # Cookies the other site sets stay on the site's own host, never on the platform's whole domain.
  proxy_cookie_domain ~^.+$ $host;
  # The path _redirects rules see: at most 2 KB, so the work of a site's rules per request is
  # bounded whatever a visitor sends. Any bytes: a "#" or "|" of the path cannot be taken for the
  # key's separators (rules/compile.ts ruleRegex says why).
  map $uri $sprout_rules_uri {
    volatile;
    "~^[\\s\\S]{1,2048}\\z" $uri;
    default "";
  }

  # A site's redirect answer "<status or proxy>|<target>" ($sprout_rv, set by the site's server from
  # its rules map, see rules/compile.ts) in parts. Defined once here rather than per site, so a site
  # with rules adds no variables and no regexes of its own for them.
  # Declared here, set by the rules sites' servers: empty for every other request.
  map "" $sprout_rv {
    default "";
  }
  map "" $sprout_hs {
    default "";
  }
  map $sprout_rv $sprout_st {
    volatile;
    "~^(?<sprout_st1>\\w+)\\|[\\s\\S]*$" $sprout_st1;
    default "";
  }
  map $sprout_rv $sprout_to {
    volatile;
    "~^\\w+\\|(?<sprout_to1>[\\s\\S]*)$" $sprout_to1;
    default "";
  }
${o.lua ? "" : `  # A visitor's path value in a redirect or proxy target, encoded (rules/value-encoding.ts).
${valueEncodingMaps()}
`}  # A target that could leave the deployment or the site once a visitor's values are in: a "." or
  # ".." segment or an encoded dot, slash or backslash before the query, a leading "//" or "/\\", or
  # a control character.
  map $sprout_to $sprout_unsafe {
    volatile;
    "~${UNSAFE_TARGET}" 1;
    default "";
  }
  map $sprout_to $sprout_path {
    volatile;
    "~^(?<sprout_p1>[^?]*)" $sprout_p1;
    default "";
  }
  map $sprout_to $sprout_qs {
    volatile;
    "~^[^?]*\\?(?<sprout_q1>[\\s\\S]*)$" $sprout_q1;
    default "";
  }
  map $sprout_rv $sprout_args_from_rule {
    volatile;
    "~^200\\|[^?]*\\?" 1;
    default "";
  }
  # A rules site's headers for the resource served: its header-set map's value ($sprout_hs, copied in
  # each location, see rules/header-sets.ts) read field by field.
  ${globalHeaderMaps()}
  # The tree a rules site's server serves from its host: a preview host's deployment, else production.
  map $host $sprout_tree {
    "~^(?<sprout_d>[a-z0-9]+)--" deploys/$sprout_d;
    default current;
  }`;
}
