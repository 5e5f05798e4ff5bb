import { join } from "node:path";
import type { GatewayRoutes } from "../../protocol/domain";
import type { NginxLayout } from "../nginx/config";

/** GatewayListen is where a gateway's nginx takes visitors. */
export interface GatewayListen {
  /** http: `host:port` for plain HTTP. */
  http: string;
  /** https: `host:port` for HTTPS, or null when the gateway has no --https-listen. */
  https: string | null;
}

/** WILDCARD: the name the platform's `*.<domain>` certificate is installed under (no host name has a `_`). */
export const WILDCARD = "_wildcard";

/** certFiles names the files a domain's certificate and key are installed as on a gateway. */
export function certFiles(layout: NginxLayout, domain: string) {
  return { cert: join(layout.prefix, "certs", `${domain}.crt`), key: join(layout.prefix, "certs", `${domain}.key`) };
}

/**
 * MasterTrust: how a gateway's nginx checks the master's HTTPS when it passes ACME challenges on (a
 * man in the middle answering them could get certificates for the platform's domains): the master's
 * pinned certificate as the only trusted one, or the system's CAs.
 */
export interface MasterTrust {
  /** file: PEM of the certificates trusted for the master. */
  file: string;
  /** name: the name checked in the master's certificate (`localhost` for Sprout's self-signed one). */
  name: string;
}

/** masterTls renders the checks of the master's certificate for an https:// master. */
function masterTls(t: MasterTrust | null | undefined): string {
  if (!t) return "";
  return `
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${t.file};
      proxy_ssl_name ${t.name};
      proxy_ssl_server_name on;
      proxy_set_header Host ${t.name};`;
}

const esc = (s: string) => s.replace(/[.]/g, "\\.");
const q = (s: string) => `"${s}"`;

/**
 * renderGatewayConf renders a gateway's nginx.conf from the master's routes: a load balancer with one
 * upstream per set of nodes and two maps, host -> site and site -> upstream. Hosts are production
 * `<site>.<domain>`, previews `<id>--<site>.<domain>` (one pattern for all sites) and verified custom
 * domains (exact names, hashed). A failed or overloaded node is skipped for the next one
 * (`proxy_next_upstream`, `max_fails`), so a node's death costs no request; unknown hosts get 404.
 * ACME HTTP-01 challenges are proxied to the master, so a new challenge needs no reload.
 */
export function renderGatewayConf(o: { layout: NginxLayout; listen: GatewayListen; routes: GatewayRoutes; master: string; masterTrust?: MasterTrust | null; workerUser: string | null }): string {
  const { layout: l, routes: r } = o;
  const httpsPort = o.listen.https ? Number(o.listen.https.split(":").pop()) : null;
  const toHttps = httpsPort === 443 ? "https://$host$request_uri" : `https://$host:${httpsPort}$request_uri`;
  const secure = r.domains.filter((d) => d.cert_pem && d.key_pem && o.listen.https);
  const wildcard = r.wildcard && o.listen.https ? certFiles(l, WILDCARD) : null;
  const upstreams = r.upstreams
    .map(
      (u) => `  # ${u.servers.map((s) => s.node).join(", ")}
  upstream ${u.name} {
${u.servers.map((s) => `    server ${s.address} max_fails=1 fail_timeout=5s;`).join("\n")}
    keepalive 32;
  }`,
    )
    .join("\n");
  const siteMap = Object.entries(r.sites)
    .map(([site, upstream]) => `    ${site} ${upstream};`)
    .join("\n");
  const domainSites = r.domains.map((d) => `    ${d.name} ${d.site};`).join("\n");
  const domainHosts = r.domains.map((d) => `    ${d.name} ${d.site}.${r.domain};`).join("\n");
  const challenges = `    location /.well-known/acme-challenge/ {
      proxy_pass ${o.master};${masterTls(o.masterTrust)}
    }`;
  const proxy = `${challenges}
    location / {
      if ($sprout_upstream = "") { return 404; }
      proxy_pass http://$sprout_upstream;
    }`;
  const user = o.workerUser ? `user ${o.workerUser};` : "# nginx runs as the gateway's own user.";
  const https = o.listen.https
    ? `
  # HTTPS: one server per domain with a certificate; any other name is refused at the handshake.
  server {
    listen ${o.listen.https} ssl http2 default_server;
    ssl_reject_handshake on;
  }
${
  wildcard
    ? `  # The sites' own hosts and previews (<site>.${r.domain}, <id>--<site>.${r.domain}): the operator's wildcard certificate.
  server {
    listen ${o.listen.https} ssl http2;
    server_name *.${r.domain};
    ssl_certificate ${wildcard.cert}$sprout_live_cert;
    ssl_certificate_key ${wildcard.key}$sprout_live_cert;
    add_header Strict-Transport-Security $sprout_hsts always;
${proxy}
  }
`
    : ""
}${secure
  .map((d) => {
    const f = certFiles(l, d.name);
    return `  server {
    listen ${o.listen.https} ssl http2;
    server_name ${d.name};
    # Read at each full handshake (the path holds a variable): a renewed certificate is served
    # without a reload, so no connection is cut.
    ssl_certificate ${f.cert}$sprout_live_cert;
    ssl_certificate_key ${f.key}$sprout_live_cert;
    add_header Strict-Transport-Security $sprout_hsts always;
${proxy}
  }${
      d.keep_http
        ? `
  # ${d.name} keeps plain HTTP (sprout sites set ${d.site} --keep-http true): served by the default server.`
        : `
  # ${d.name} has a certificate: plain HTTP redirects to HTTPS (challenges still answered).
  server {
    listen ${o.listen.http};
    server_name ${d.name};
${challenges}
    location / {
      return 301 ${toHttps};
    }
  }`
    }`;
  })
  .join("\n")}`
    : "";
  return `# Generated by sprout agent --role gateway from the master's routes; edits are overwritten.
${user}
worker_processes auto;
pcre_jit on;
pid ${l.pid};
error_log ${join(l.prefix, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(l.prefix, "tmp/body")};
  proxy_temp_path ${join(l.prefix, "tmp/proxy")};
  fastcgi_temp_path ${join(l.prefix, "tmp/fastcgi")};
  uwsgi_temp_path ${join(l.prefix, "tmp/uwsgi")};
  scgi_temp_path ${join(l.prefix, "tmp/scgi")};
  server_tokens off;
  keepalive_timeout 65;
  map_hash_bucket_size 128;
  server_names_hash_bucket_size 128;

  # Mozilla "intermediate" TLS settings.
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384;
  ssl_prefer_server_ciphers off;
  ssl_session_cache shared:sprout_tls:10m;
  ssl_session_timeout 1d;
  ssl_session_tickets off;

  # To the nodes: keep-alive connections; the node sees the visitor's host (a custom domain becomes
  # the site's platform host, which every node serves) and the original host and scheme as headers.
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $sprout_node_host;
  proxy_set_header X-Forwarded-Host $host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  # A node that refuses, times out or answers 502/503/504 is skipped for the next one that holds the site.
  proxy_next_upstream error timeout http_502 http_503 http_504;
  proxy_next_upstream_tries 3;
  proxy_next_upstream_timeout 15s;
  proxy_connect_timeout 2s;
  proxy_read_timeout 30s;
  # Responses stream to the visitor; none is spooled to disk (the workers may not write there).
  proxy_max_temp_file_size 0;

  # Which site a host is: verified custom domains by name, then the platform's hosts by pattern
  # (production <site>.${r.domain} and previews <deployment>--<site>.${r.domain}).
  map $host $sprout_site {
    default "";
    ${q(`~^(?:[a-z0-9]+--)?(?<sprout_s>[a-z0-9-]+)\\.${esc(r.domain)}$`)} $sprout_s;
${domainSites}
  }
  # Always empty: appended to certificate paths so nginx reads them per handshake (see HTTPS below).
  map $host $sprout_live_cert {
    default "";
  }
  # Strict-Transport-Security for the sites that opted in (sprout sites set NAME --hsts true); empty: not sent.
  map $sprout_site $sprout_hsts {
    default "";
${(r.hsts ?? []).map((s) => `    ${s} "max-age=31536000";`).join("\n")}
  }
  # The Host the nodes are asked for.
  map $host $sprout_node_host {
    default $host;
${domainHosts}
  }
  # Which nodes serve a site (sites on the same nodes share an upstream).
  map $sprout_site $sprout_upstream {
    default "";
${siteMap}
  }

${upstreams}

  server {
    listen ${o.listen.http} default_server;
    server_name _;
${proxy}
  }
${https}
}
`;
}
