import { join } from "node:path";
import type { NodeTls } from "../../protocol/domain";
import { MOZILLA_INTERMEDIATE, WILDCARD, certFiles, challengeLocation, type MasterTrust } from "../cert-files";
import type { NginxLayout } from "./config";

/**
 * httpsInclude is the line renderNginxConf puts in the node's http block: the HTTPS servers
 * (nginx/https/*.conf, written by TlsSync when the node runs with --https-listen; none otherwise).
 */
export function httpsInclude(l: NginxLayout): string {
  return `include ${join(l.prefix, "https", "*.conf")};`;
}

/** httpsConfFile is the file TlsSync writes the node's HTTPS servers to. */
export function httpsConfFile(l: NginxLayout): string {
  return join(l.prefix, "https", "servers.conf");
}

/**
 * hopSocket is the main nginx's own unix socket: its HTTP servers listen on it besides the HTTP
 * listener, and its HTTPS servers (below) are its only clients. So the main nginx takes the
 * visitor's address (X-Forwarded-For) from this socket's requests and from no one else's, the way
 * the shards take X-Sprout-Client from the main nginx: a visitor, a tenant's proxy rule (it cannot
 * name a unix socket) or anything reaching the HTTP listener over TCP cannot choose it, nor a local
 * user (its folder, config.ts socketDir, lets only nginx's workers through).
 */
export function hopSocket(l: NginxLayout): string {
  return join(l.prefix, "sock", "hop.sock");
}

const esc = (s: string) => s.replace(/[.]/g, "\\.");

/**
 * renderNodeHttps renders a node's HTTPS servers (--https-listen), included in its main nginx.conf:
 *
 * - one server per custom domain with an active certificate, and one for `*.<domain>` when the
 *   platform has a wildcard certificate; any other name is refused at the handshake. Certificates
 *   are named statically, so nginx loads each once per reload (a handshake costs what bare nginx's
 *   does) and can staple OCSP answers; a renewal batch costs one reload;
 * - TLS ends here and the request goes on to the node's own HTTP servers over a kept-alive
 *   connection to their unix socket (hopSocket), with the site's platform host and the visitor's
 *   address: every rule, header, access check and Country= condition of the site applies exactly
 *   as over HTTP, whatever server the site has there (main, rules, shard);
 * - on the HTTP listener, each custom domain: ACME HTTP-01 challenges go to the master (a challenge
 *   needs no reload), and the rest redirects to HTTPS once a certificate is active unless the site
 *   keeps plain HTTP (then, and before a certificate, it is served over HTTP as by a gateway);
 * - Strict-Transport-Security for the sites that opted in, HTTP/2, Mozilla "intermediate" settings.
 *
 * The access log counts each request once, at the HTTP listener: these servers log nothing.
 */
export function renderNodeHttps(o: { layout: NginxLayout; httpListen: string; httpsListen: string; tls: NodeTls; master: string; masterTrust: MasterTrust | null }): string {
  const { tls: t, httpsListen: https } = o;
  const port = Number(https.split(":").pop());
  const toHttps = port === 443 ? "https://$host$request_uri" : `https://$host:${port}$request_uri`;
  // Every server here logs nothing (see above). One that passes requests on keeps the connection to
  // the HTTP servers alive, asks for the site's platform host there and names the visitor as this
  // server saw it (after --trusted-proxies): the one X-Forwarded-For the HTTP servers take, since it
  // comes over their unix socket; whatever the visitor sent in it is replaced, so it cannot choose.
  // Set per server, since a location's own proxy_set_header would drop all of these. 16 KB buffers,
  // as on gateways: a page's answer in one read; nothing spooled to disk.
  const quiet = `
    access_log off;`;
  const toSelf = (host: string) => `${quiet}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host ${host};
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_buffer_size 16k;
    proxy_buffers 4 16k;
    proxy_max_temp_file_size 0;`;
  const proxy = `      proxy_pass http://sprout_self;`;
  const challenges = challengeLocation(o.master, o.masterTrust);
  const hsts = (t.hsts ?? []).map((s) => `  ${s} "max-age=31536000";`).join("\n");
  const servers: string[] = [];
  if (t.wildcard) {
    const f = certFiles(o.layout, WILDCARD);
    servers.push(`  # The sites' own hosts and previews (<site>.${t.domain}, <id>--<site>.${t.domain}): the platform's wildcard certificate.
  server {
    listen ${https} ssl http2;
    server_name *.${t.domain};${toSelf("$host")}
    ssl_certificate ${f.cert};
    ssl_certificate_key ${f.key};
    add_header Strict-Transport-Security $sprout_tls_hsts always;
    location / {
${proxy}
    }
  }`);
  }
  for (const d of t.domains) {
    const host = `${d.site}.${t.domain}`;
    const active = !!(d.cert_pem && d.key_pem);
    if (active) {
      const f = certFiles(o.layout, d.name);
      servers.push(`  # ${d.name}: site ${d.site}.
  server {
    listen ${https} ssl http2;
    server_name ${d.name};${toSelf(host)}
    ssl_certificate ${f.cert};
    ssl_certificate_key ${f.key};
    add_header Strict-Transport-Security $sprout_tls_hsts always;
    location / {
${proxy}
    }
  }`);
    }
    const plain = !active ? "no certificate yet: served over HTTP" : d.keep_http ? `keeps plain HTTP (sprout sites set ${d.site} --keep-http true)` : "has a certificate: HTTP redirects to HTTPS";
    servers.push(`  # ${d.name} over HTTP: ${plain}; ACME challenges go to the master.
  server {
    listen ${o.httpListen};
    server_name ${d.name};${active && !d.keep_http ? quiet : toSelf(host)}
${challenges}
    location / {
${active && !d.keep_http ? `      return 301 ${toHttps};` : proxy}
    }
  }`);
  }
  return `# Generated by sprout agent (--https-listen ${https}) from the master's certificates; edits are overwritten.
# Mozilla "intermediate" TLS settings.
${MOZILLA_INTERMEDIATE.replace(/^ {2}/gm, "")}
# OCSP answers stapled for certificates that name a responder (nginx fetches them; none: ignored).
ssl_stapling on;
ssl_stapling_verify on;
# HTTPS ends here and each request goes on to this node's own HTTP servers, kept alive, over their
# unix socket: the only connection their X-Forwarded-For is taken from (see nginx.conf).
upstream sprout_self {
  server unix:${hopSocket(o.layout)};
  keepalive 32;
}
# Strict-Transport-Security for the sites that opted in (sprout sites set NAME --hsts true); empty: not sent.
map $host $sprout_tls_site {
  default "";
  "~^(?:[a-z0-9]+--)?(?<sprout_ts>[a-z0-9-]+)\\.${esc(t.domain)}$" $sprout_ts;
${t.domains.map((d) => `  ${d.name} ${d.site};`).join("\n")}
}
map $sprout_tls_site $sprout_tls_hsts {
  default "";
${hsts}
}
# Over HTTP, any other name (a domain verified a moment ago, not yet in this file): its ACME challenges
# still reach the master, so issuance right after verification does not wait for this node. Regex
# names are tried in the order written and this one comes last: every site's server matches first.
  server {
    listen ${o.httpListen};
    server_name ~.;${quiet}
${challenges}
    location / {
      return 404;
    }
  }
# Any name without a certificate here is refused at the handshake.
  server {
    listen ${https} ssl http2 default_server;
    ssl_reject_handshake on;
  }
${servers.join("\n")}
`;
}
